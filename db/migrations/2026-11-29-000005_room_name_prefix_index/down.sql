DROP INDEX rooms_name_prefix_idx;
