//! The `user_preferences` and `room_notification_levels` tables: a person's
//! preferences (no row: every default) and the rooms whose notification
//! level they set apart from their default.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::Result;
use crate::preferences::{
    Clock, Density, Notifications, NotifyLevel, Patch, Preferences, SidebarOrder, Theme, TimeZone,
};
use crate::schema::{room_notification_levels, user_preferences};

/// A row of `user_preferences`, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_preferences)]
struct Row {
    user_id: i64,
    theme: String,
    time_zone: String,
    clock: String,
    density: String,
    enter_sends: bool,
    notify_browser: bool,
    notify_default: String,
    show_typing: bool,
    appear_offline: bool,
    personalization: bool,
    emotion_tagging: bool,
    updated_at: DateTime<Utc>,
    sidebar_order: String,
    show_emotions: bool,
}

impl Row {
    fn of(user_id: i64, p: &Preferences, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            theme: p.theme.as_str().to_owned(),
            time_zone: p.time_zone.name().to_owned(),
            clock: p.clock.as_str().to_owned(),
            density: p.density.as_str().to_owned(),
            enter_sends: p.enter_sends,
            notify_browser: p.notifications.browser,
            notify_default: p.notifications.default_level.as_str().to_owned(),
            show_typing: p.show_typing,
            appear_offline: p.appear_offline,
            personalization: p.personalization,
            emotion_tagging: p.emotion_tagging,
            updated_at: now,
            sidebar_order: p.sidebar_order.as_str().to_owned(),
            show_emotions: p.show_emotions,
        }
    }

    /// The preferences a row holds. The table's checks allow only known
    /// values; a zone the time zone database stopped knowing reads as UTC.
    fn preferences(&self) -> Preferences {
        let d = Preferences::default();
        Preferences {
            theme: Theme::parse(&self.theme).unwrap_or(d.theme),
            time_zone: TimeZone::parse(&self.time_zone).unwrap_or(d.time_zone),
            clock: Clock::parse(&self.clock).unwrap_or(d.clock),
            density: Density::parse(&self.density).unwrap_or(d.density),
            enter_sends: self.enter_sends,
            notifications: Notifications {
                browser: self.notify_browser,
                default_level: NotifyLevel::parse(&self.notify_default)
                    .unwrap_or(d.notifications.default_level),
            },
            show_typing: self.show_typing,
            appear_offline: self.appear_offline,
            personalization: self.personalization,
            sidebar_order: SidebarOrder::parse(&self.sidebar_order).unwrap_or(d.sidebar_order),
            emotion_tagging: self.emotion_tagging,
            show_emotions: self.show_emotions,
        }
    }
}

/// The columns a patch changes on an existing row (`None`: kept).
#[derive(AsChangeset)]
#[diesel(table_name = user_preferences)]
struct Changes {
    theme: Option<String>,
    time_zone: Option<String>,
    clock: Option<String>,
    density: Option<String>,
    enter_sends: Option<bool>,
    notify_browser: Option<bool>,
    notify_default: Option<String>,
    show_typing: Option<bool>,
    appear_offline: Option<bool>,
    personalization: Option<bool>,
    emotion_tagging: Option<bool>,
    updated_at: DateTime<Utc>,
    sidebar_order: Option<String>,
    show_emotions: Option<bool>,
}

impl Changes {
    fn of(p: &Patch, now: DateTime<Utc>) -> Self {
        let s = |v: Option<&'static str>| v.map(str::to_owned);
        Self {
            theme: s(p.theme.map(Theme::as_str)),
            time_zone: s(p.time_zone.map(TimeZone::name)),
            clock: s(p.clock.map(Clock::as_str)),
            density: s(p.density.map(Density::as_str)),
            enter_sends: p.enter_sends,
            notify_browser: p.notify_browser,
            notify_default: s(p.notify_default.map(NotifyLevel::as_str)),
            show_typing: p.show_typing,
            appear_offline: p.appear_offline,
            personalization: p.personalization,
            emotion_tagging: p.emotion_tagging,
            updated_at: now,
            sidebar_order: s(p.sidebar_order.map(SidebarOrder::as_str)),
            show_emotions: p.show_emotions,
        }
    }
}

/// The user's preferences: the defaults when they never changed any
/// (nothing is written by reading).
pub async fn get(conn: &mut AsyncPgConnection, user_id: i64) -> Result<Preferences> {
    let row: Option<Row> = user_preferences::table
        .find(user_id)
        .select(Row::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map_or_else(Preferences::default, |r| r.preferences()))
}

/// Applies `patch` in one statement: a first change writes the defaults
/// with the patch over them, a later one changes only the columns the patch
/// names, so two changes at once of different keys both hold. Returns the
/// preferences after it.
pub async fn update(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    patch: &Patch,
) -> Result<Preferences> {
    let now = Utc::now();
    let fresh = Row::of(user_id, &Preferences::default().patched(patch), now);
    let row: Row = diesel::insert_into(user_preferences::table)
        .values(&fresh)
        .on_conflict(user_preferences::user_id)
        .do_update()
        .set(Changes::of(patch, now))
        .returning(Row::as_returning())
        .get_result(conn)
        .await?;
    Ok(row.preferences())
}

/// The level the user set for one room, if any (else their default holds).
pub async fn room_level(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_id: i64,
) -> Result<Option<NotifyLevel>> {
    let level: Option<String> = room_notification_levels::table
        .find((user_id, room_id))
        .select(room_notification_levels::level)
        .first(conn)
        .await
        .optional()?;
    Ok(level.as_deref().and_then(NotifyLevel::parse))
}

/// Every room the user set a level for, by room id.
pub async fn room_levels(
    conn: &mut AsyncPgConnection,
    user_id: i64,
) -> Result<Vec<(i64, NotifyLevel)>> {
    let rows: Vec<(i64, String)> = room_notification_levels::table
        .filter(room_notification_levels::user_id.eq(user_id))
        .select((
            room_notification_levels::room_id,
            room_notification_levels::level,
        ))
        .order(room_notification_levels::room_id)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(room, level)| NotifyLevel::parse(&level).map(|l| (room, l)))
        .collect())
}

/// Sets the user's level for a room; `None` goes back to their default.
pub async fn set_room_level(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    room_id: i64,
    level: Option<NotifyLevel>,
) -> Result<()> {
    match level {
        Some(level) => {
            diesel::insert_into(room_notification_levels::table)
                .values((
                    room_notification_levels::user_id.eq(user_id),
                    room_notification_levels::room_id.eq(room_id),
                    room_notification_levels::level.eq(level.as_str()),
                ))
                .on_conflict((
                    room_notification_levels::user_id,
                    room_notification_levels::room_id,
                ))
                .do_update()
                .set(room_notification_levels::level.eq(excluded(room_notification_levels::level)))
                .execute(conn)
                .await?;
        }
        None => {
            diesel::delete(room_notification_levels::table.find((user_id, room_id)))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// The people who turned the tagging of their own messages off.
pub async fn not_tagged(conn: &mut AsyncPgConnection) -> Result<Vec<i64>> {
    Ok(user_preferences::table
        .filter(user_preferences::emotion_tagging.eq(false))
        .select(user_preferences::user_id)
        .load(conn)
        .await?)
}
