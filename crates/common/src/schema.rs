// @generated automatically by Diesel CLI.

diesel::table! {
    messages (id) {
        id -> Int8,
        room_id -> Int8,
        seq -> Int8,
        user_id -> Int8,
        body -> Text,
        nonce -> Text,
        sent_at -> Timestamptz,
    }
}

diesel::table! {
    room_members (room_id, user_id) {
        room_id -> Int8,
        user_id -> Int8,
        last_read_seq -> Int8,
        joined_at -> Timestamptz,
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
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Int8,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
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

diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(messages -> users (user_id));
diesel::joinable!(room_members -> rooms (room_id));
diesel::joinable!(room_members -> users (user_id));
diesel::joinable!(rooms -> users (owner_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(messages, room_members, rooms, sessions, users,);
