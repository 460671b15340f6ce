-- Searches of one or two characters match the start of room names
-- (`lower(name) LIKE 'x%'`): the trigram indexes cannot serve them, this
-- one can in any collation.
CREATE INDEX rooms_name_prefix_idx ON rooms (lower(name) text_pattern_ops);
