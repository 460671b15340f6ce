// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    assistant_jobs (id) {
        id -> Int8,
        room_id -> Int8,
        question_id -> Int8,
        question_seq -> Int8,
        asker_id -> Int8,
        state -> Text,
        code -> Text,
        attempts -> Int4,
        lease_until -> Nullable<Timestamptz>,
        stop_requested_at -> Nullable<Timestamptz>,
        answer_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    attachments (room_id, id) {
        id -> Int8,
        token -> Text,
        room_id -> Int8,
        user_id -> Int8,
        message_id -> Nullable<Int8>,
        position -> Int2,
        uploaded_at -> Timestamptz,
        kind -> Text,
        name -> Text,
        mime -> Text,
        size -> Int8,
        blob -> Text,
        thumb_blob -> Nullable<Text>,
        play_blob -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    log_cursors (consumer, room_id) {
        consumer -> Text,
        room_id -> Int8,
        seq -> Int8,
    }
}

diesel::table! {
    media_blobs (sha256) {
        sha256 -> Text,
        size -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    message_annotations (room_id, message_id, kind) {
        message_id -> Int8,
        kind -> Text,
        room_id -> Int8,
        user_id -> Int8,
        seq -> Int8,
        sent_at -> Timestamptz,
        labels -> Text,
        top -> Text,
        top_score -> Float4,
        model -> Text,
        text -> Text,
    }
}

diesel::table! {
    message_reactions (room_id, message_id, user_id, emoji) {
        message_id -> Int8,
        user_id -> Int8,
        emoji -> Text,
        created_at -> Timestamptz,
        room_id -> Int8,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    message_search (room_id, message_id) {
        message_id -> Int8,
        room_id -> Int8,
        seq -> Int8,
        user_id -> Int8,
        sent_at -> Timestamptz,
        text -> Text,
        words -> Nullable<Tsvector>,
    }
}

diesel::table! {
    message_vectors (room_id, message_id) {
        message_id -> Int8,
        room_id -> Int8,
        model -> Int2,
        scale -> Float4,
        v -> Bytea,
    }
}

diesel::table! {
    messages (room_id, id) {
        id -> Int8,
        room_id -> Int8,
        seq -> Int8,
        user_id -> Int8,
        body -> Text,
        nonce -> Text,
        sent_at -> Timestamptz,
        html -> Text,
        mentions -> Array<Nullable<Int8>>,
        reply_to_id -> Nullable<Int8>,
        edited_at -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    moderation_actions (id) {
        id -> Int8,
        room_id -> Int8,
        seq -> Int8,
        actor_id -> Nullable<Int8>,
        target_id -> Nullable<Int8>,
        message_id -> Nullable<Int8>,
        action -> Text,
        detail -> Text,
        until -> Nullable<Timestamptz>,
        reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    room_bans (room_id, user_id) {
        room_id -> Int8,
        user_id -> Int8,
        until -> Nullable<Timestamptz>,
        by_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    room_events (room_id, seq) {
        room_id -> Int8,
        seq -> Int8,
        kind -> Text,
        message_id -> Nullable<Int8>,
        user_id -> Int8,
        nonce -> Text,
        frame -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    room_invites (id) {
        id -> Int8,
        room_id -> Int8,
        inviter_id -> Nullable<Int8>,
        invitee_id -> Nullable<Int8>,
        token_hash -> Nullable<Bytea>,
        expires_at -> Nullable<Timestamptz>,
        max_uses -> Nullable<Int4>,
        uses -> Int4,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    room_members (room_id, user_id) {
        room_id -> Int8,
        user_id -> Int8,
        last_read_seq -> Int8,
        joined_at -> Timestamptz,
        role -> Text,
        last_posted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    room_mutes (room_id, user_id) {
        room_id -> Int8,
        user_id -> Int8,
        until -> Timestamptz,
        by_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    room_notification_levels (user_id, room_id) {
        user_id -> Int8,
        room_id -> Int8,
        level -> Text,
    }
}

diesel::table! {
    room_seqs (room_id) {
        room_id -> Int8,
        last_seq -> Int8,
        message_count -> Int8,
    }
}

diesel::table! {
    room_usage (user_id, room_id) {
        user_id -> Int8,
        room_id -> Int8,
        opens -> Int4,
        posts -> Int4,
        last_used_at -> Timestamptz,
    }
}

diesel::table! {
    rooms (id) {
        id -> Int8,
        name -> Text,
        topic -> Text,
        owner_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        visibility -> Text,
        kind -> Text,
        slow_mode_secs -> Int4,
        restricted_until -> Nullable<Timestamptz>,
        dm_key -> Nullable<Text>,
        emotions -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Int8,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        user_agent -> Text,
        address -> Text,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    user_blocks (blocker_id, blocked_id) {
        blocker_id -> Int8,
        blocked_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    user_preferences (user_id) {
        user_id -> Int8,
        theme -> Text,
        time_zone -> Text,
        clock -> Text,
        density -> Text,
        enter_sends -> Bool,
        notify_browser -> Bool,
        notify_default -> Text,
        show_typing -> Bool,
        appear_offline -> Bool,
        personalization -> Bool,
        emotion_tagging -> Bool,
        updated_at -> Timestamptz,
        sidebar_order -> Text,
        show_emotions -> Bool,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        display_name -> Text,
        bio -> Text,
        kind -> Text,
    }
}

diesel::joinable!(assistant_jobs -> rooms (room_id));
diesel::joinable!(assistant_jobs -> users (asker_id));
diesel::joinable!(attachments -> rooms (room_id));
diesel::joinable!(attachments -> users (user_id));
diesel::joinable!(message_reactions -> users (user_id));
diesel::joinable!(moderation_actions -> rooms (room_id));
diesel::joinable!(room_bans -> rooms (room_id));
diesel::joinable!(room_invites -> rooms (room_id));
diesel::joinable!(room_members -> rooms (room_id));
diesel::joinable!(room_members -> users (user_id));
diesel::joinable!(room_mutes -> rooms (room_id));
diesel::joinable!(room_notification_levels -> rooms (room_id));
diesel::joinable!(room_notification_levels -> users (user_id));
diesel::joinable!(room_seqs -> rooms (room_id));
diesel::joinable!(room_usage -> rooms (room_id));
diesel::joinable!(room_usage -> users (user_id));
diesel::joinable!(rooms -> users (owner_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(user_preferences -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    assistant_jobs,
    attachments,
    log_cursors,
    media_blobs,
    message_annotations,
    message_reactions,
    message_search,
    message_vectors,
    messages,
    moderation_actions,
    room_bans,
    room_events,
    room_invites,
    room_members,
    room_mutes,
    room_notification_levels,
    room_seqs,
    room_usage,
    rooms,
    sessions,
    user_blocks,
    user_preferences,
    users,
);
