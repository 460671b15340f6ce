// @generated automatically by Diesel CLI.

diesel::table! {
    message_reactions (message_id, user_id, emoji) {
        message_id -> Int8,
        user_id -> Int8,
        emoji -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    messages (id) {
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
    room_members (room_id, user_id) {
        room_id -> Int8,
        user_id -> Int8,
        last_read_seq -> Int8,
        joined_at -> Timestamptz,
        role -> Text,
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
    rooms (id) {
        id -> Int8,
        name -> Text,
        topic -> Text,
        owner_id -> Nullable<Int8>,
        last_seq -> Int8,
        created_at -> Timestamptz,
        message_count -> Int8,
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
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(message_reactions -> messages (message_id));
diesel::joinable!(message_reactions -> users (user_id));
diesel::joinable!(room_members -> rooms (room_id));
diesel::joinable!(room_members -> users (user_id));
diesel::joinable!(room_notification_levels -> rooms (room_id));
diesel::joinable!(room_notification_levels -> users (user_id));
diesel::joinable!(rooms -> users (owner_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(user_preferences -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    message_reactions,
    messages,
    room_events,
    room_members,
    room_notification_levels,
    rooms,
    sessions,
    user_preferences,
    users,
);
