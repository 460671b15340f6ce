//! A person's preferences (docs/http.md, `GET/PUT /api/v1/me/preferences`):
//! how pages look and read times, how the composer sends, what notifies
//! them, and what others may see of them. Both services read them (the
//! website renders with them, chat enforces the privacy ones), so the type
//! and its validation live here; a [`Patch`] is the only way to change one,
//! and parsing a patch is the only validation.

use std::borrow::Cow;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{Code, Error, Result};

/// Declares a preference's closed set of values with their wire names.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $( $(#[doc = $doc:literal])+ $variant:ident = $wire:literal, )+ } default $default:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[doc = $doc])+ #[serde(rename = $wire)] $variant, )+
        }

        // Written by hand: the derive cannot read the wire names through
        // the macro's metavariables, and would publish the Rust names.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($wire),+]))
                    .into()
            }
        }

        impl ToSchema for $name {}

        impl Default for $name {
            fn default() -> Self {
                Self::DEFAULT
            }
        }

        impl $name {
            /// Every value, in the order forms offer them.
            pub const ALL: &[$name] = &[$($name::$variant),+];
            /// The value when nothing was chosen.
            pub const DEFAULT: $name = $name::$default;

            /// The value as the API, the database and the pages write it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// The value written `s`, if it is one.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The accepted values, for an error message ("a", "b" or "c").
            fn accepted() -> String {
                let names: Vec<String> = Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                    _ => names.join(""),
                }
            }
        }
    };
}

choice!(
    /// The colours of every page: the system's (`prefers-color-scheme`),
    /// or always light or dark.
    Theme {
        /// Follow the device's light or dark setting.
        System = "system",
        /// Always light.
        Light = "light",
        /// Always dark.
        Dark = "dark",
    } default System
);

choice!(
    /// How times of day are written.
    Clock {
        /// 14:05.
        H24 = "24h",
        /// 2:05 PM.
        H12 = "12h",
    } default H24
);

choice!(
    /// How tightly the message list is set.
    Density {
        /// Room to breathe.
        Comfortable = "comfortable",
        /// More messages on a screen.
        Compact = "compact",
    } default Comfortable
);

choice!(
    /// Which new messages of a room notify: every one, those that mention
    /// me, or none.
    NotifyLevel {
        /// Every new message by someone else.
        All = "all",
        /// Only messages that mention me.
        Mentions = "mentions",
        /// None.
        Nothing = "nothing",
    } default Mentions
);

choice!(
    /// How the sidebar orders my rooms: by what I use most and most
    /// recently (learned, see `store::usage`), or by name. With
    /// personalization off it is by name whatever this says.
    SidebarOrder {
        /// Most used and most recently used first.
        Usage = "usage",
        /// By name, ignoring case.
        Alphabetical = "alphabetical",
    } default Usage
);

/// An IANA time zone ("Europe/Paris", "UTC"), as chrono-tz knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    /// UTC: the default.
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);

    /// The zone named exactly `name` (IANA spelling, case included).
    pub fn parse(name: &str) -> Option<Self> {
        chrono_tz::Tz::from_str(name).ok().map(Self)
    }

    /// Its IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Every zone a person may choose, by name: the IANA names with a
    /// region ("Europe/Paris") and UTC, without the old aliases
    /// ("US/Eastern", "Etc/GMT+5").
    pub fn choices() -> impl Iterator<Item = &'static str> {
        chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| tz.name())
            .filter(|n| {
                *n == "UTC"
                    || (n.contains('/')
                        && ![
                            "Etc/", "US/", "SystemV/", "Canada/", "Brazil/", "Chile/", "Mexico/",
                        ]
                        .iter()
                        .any(|old| n.starts_with(old)))
            })
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        Self::UTC
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name).ok_or_else(|| serde::de::Error::custom("not an IANA time zone"))
    }
}

/// What notifies me, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notifications {
    /// Desktop notifications through the browser (its Notification API),
    /// once the browser has allowed them.
    pub browser: bool,
    /// The level of every room that has none of its own.
    #[serde(rename = "default")]
    pub default_level: NotifyLevel,
}

/// A person's preferences; the default is what an account that never
/// chose anything gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Preferences {
    /// `system` (default), `light` or `dark`.
    pub theme: Theme,
    /// An IANA name; every time a page shows is in it (default `UTC`).
    #[schema(value_type = String, example = "Europe/Paris")]
    pub time_zone: TimeZone,
    /// `24h` (default) or `12h`.
    pub clock: Clock,
    /// `comfortable` (default) or `compact`.
    pub density: Density,
    /// Enter sends (default); false: Ctrl+Enter (Cmd+Enter) sends and
    /// Enter starts a new line.
    pub enter_sends: bool,
    /// Desktop notifications and the default level of every room.
    pub notifications: Notifications,
    /// Others see when I am typing (default true).
    pub show_typing: bool,
    /// Others never see me online (default false); I still see them.
    pub appear_offline: bool,
    /// Suggestions and ordering learned from what I do (default true).
    pub personalization: bool,
    /// `usage` (default) or `alphabetical`: how the sidebar orders my rooms
    /// (alphabetical whenever personalization is off).
    pub sidebar_order: SidebarOrder,
    /// My messages are analysed for emotion tags (default true); off, they
    /// never are and earlier tags are taken back.
    pub emotion_tagging: bool,
    /// Emotion markers show on messages in my view (default true).
    pub show_emotions: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            theme: Theme::DEFAULT,
            time_zone: TimeZone::UTC,
            clock: Clock::DEFAULT,
            density: Density::DEFAULT,
            enter_sends: true,
            notifications: Notifications {
                browser: false,
                default_level: NotifyLevel::DEFAULT,
            },
            show_typing: true,
            appear_offline: false,
            personalization: true,
            sidebar_order: SidebarOrder::DEFAULT,
            emotion_tagging: true,
            show_emotions: true,
        }
    }
}

impl Preferences {
    /// These preferences with what `patch` sets changed.
    pub fn patched(mut self, patch: &Patch) -> Self {
        macro_rules! take {
            ($($field:ident).+ = $value:expr) => {
                if let Some(v) = $value {
                    self.$($field).+ = v;
                }
            };
        }
        take!(theme = patch.theme);
        take!(time_zone = patch.time_zone);
        take!(clock = patch.clock);
        take!(density = patch.density);
        take!(enter_sends = patch.enter_sends);
        take!(notifications.browser = patch.notify_browser);
        take!(notifications.default_level = patch.notify_default);
        take!(show_typing = patch.show_typing);
        take!(appear_offline = patch.appear_offline);
        take!(personalization = patch.personalization);
        take!(sidebar_order = patch.sidebar_order);
        take!(emotion_tagging = patch.emotion_tagging);
        take!(show_emotions = patch.show_emotions);
        self
    }

    /// How the sidebar is ordered in fact: by usage only when the person
    /// chose it and personalization is on.
    pub fn effective_sidebar_order(&self) -> SidebarOrder {
        if self.personalization {
            self.sidebar_order
        } else {
            SidebarOrder::Alphabetical
        }
    }

    /// What the chat service enforces of them.
    pub fn privacy(&self) -> Privacy {
        Privacy {
            show_typing: self.show_typing,
            appear_offline: self.appear_offline,
        }
    }
}

/// The preferences chat enforces: whether the user's typing is relayed and
/// whether they are recorded and announced in presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privacy {
    /// Relay this user's `typing` frames.
    pub show_typing: bool,
    /// Keep this user out of presence (they still see others).
    pub appear_offline: bool,
}

impl Default for Privacy {
    fn default() -> Self {
        Preferences::default().privacy()
    }
}

/// A change to some preferences: what a `PUT` (or the settings form)
/// names; what it leaves out keeps its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Patch {
    /// New theme.
    pub theme: Option<Theme>,
    /// New time zone.
    pub time_zone: Option<TimeZone>,
    /// New clock.
    pub clock: Option<Clock>,
    /// New density.
    pub density: Option<Density>,
    /// New composer key.
    pub enter_sends: Option<bool>,
    /// `notifications.browser`.
    pub notify_browser: Option<bool>,
    /// `notifications.default`.
    pub notify_default: Option<NotifyLevel>,
    /// New typing privacy.
    pub show_typing: Option<bool>,
    /// New presence privacy.
    pub appear_offline: Option<bool>,
    /// New personalization switch.
    pub personalization: Option<bool>,
    /// New sidebar order.
    pub sidebar_order: Option<SidebarOrder>,
    /// New emotion tagging switch.
    pub emotion_tagging: Option<bool>,
    /// New switch of emotion markers in my view.
    pub show_emotions: Option<bool>,
}

/// The longest key named back in an error: a key is the client's text.
const MAX_KEY_SHOWN: usize = 64;

fn bad(field: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Error {
    Error::invalid(field, Code::BadPreference, message)
}

fn boolean(field: &'static str, v: &Value) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| bad(field, format!("{field} must be true or false")))
}

fn chosen<T>(
    field: &'static str,
    v: &Value,
    parse: fn(&str) -> Option<T>,
    accepted: String,
) -> Result<T> {
    v.as_str()
        .and_then(parse)
        .ok_or_else(|| bad(field, format!("{field} must be {accepted}")))
}

/// An unknown key, named back (cut short and without control characters).
fn unknown(prefix: &str, key: &str) -> Error {
    let shown: String = key
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_KEY_SHOWN)
        .collect();
    let field = format!("{prefix}{shown}");
    let message = format!("{field} is not a preference");
    bad(field, message)
}

impl Patch {
    /// Parses the JSON object a client sent: any subset of the keys of
    /// [`Preferences`] (`notifications` any subset of its own); a value it
    /// does not take or a key that is not one is refused with
    /// `bad_preference` and the key as `field`.
    pub fn parse(body: &Map<String, Value>) -> Result<Self> {
        let mut p = Self::default();
        for (key, v) in body {
            match key.as_str() {
                "theme" => {
                    p.theme = Some(chosen("theme", v, Theme::parse, Theme::accepted())?);
                }
                "time_zone" => {
                    let tz = v.as_str().and_then(TimeZone::parse).ok_or_else(|| {
                        bad(
                            "time_zone",
                            "time_zone must be an IANA time zone name, like \"Europe/Paris\" or \"UTC\"",
                        )
                    })?;
                    p.time_zone = Some(tz);
                }
                "clock" => p.clock = Some(chosen("clock", v, Clock::parse, Clock::accepted())?),
                "density" => {
                    p.density = Some(chosen("density", v, Density::parse, Density::accepted())?);
                }
                "enter_sends" => p.enter_sends = Some(boolean("enter_sends", v)?),
                "notifications" => {
                    let inner = v.as_object().ok_or_else(|| {
                        bad(
                            "notifications",
                            "notifications must be an object {browser, default}",
                        )
                    })?;
                    for (k, v) in inner {
                        match k.as_str() {
                            "browser" => {
                                p.notify_browser = Some(boolean("notifications.browser", v)?);
                            }
                            "default" => {
                                p.notify_default = Some(chosen(
                                    "notifications.default",
                                    v,
                                    NotifyLevel::parse,
                                    NotifyLevel::accepted(),
                                )?);
                            }
                            other => return Err(unknown("notifications.", other)),
                        }
                    }
                }
                "show_typing" => p.show_typing = Some(boolean("show_typing", v)?),
                "appear_offline" => p.appear_offline = Some(boolean("appear_offline", v)?),
                "personalization" => p.personalization = Some(boolean("personalization", v)?),
                "sidebar_order" => {
                    p.sidebar_order = Some(chosen(
                        "sidebar_order",
                        v,
                        SidebarOrder::parse,
                        SidebarOrder::accepted(),
                    )?);
                }
                "emotion_tagging" => p.emotion_tagging = Some(boolean("emotion_tagging", v)?),
                "show_emotions" => p.show_emotions = Some(boolean("show_emotions", v)?),
                other => return Err(unknown("", other)),
            }
        }
        Ok(p)
    }
}

/// A room's notification level as a client writes it (`level`).
pub fn parse_level(v: &Value) -> Result<Option<NotifyLevel>> {
    if v.is_null() {
        return Ok(None);
    }
    chosen("level", v, NotifyLevel::parse, NotifyLevel::accepted())
        .map(Some)
        .map_err(|_| {
            bad(
                "level",
                format!(
                    "level must be {} or null (the default)",
                    NotifyLevel::accepted()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(v: Value) -> Result<Patch> {
        match v {
            Value::Object(m) => Patch::parse(&m),
            other => panic!("not an object: {other}"),
        }
    }

    fn refused_field(v: Value) -> String {
        match patch(v) {
            Err(e) => {
                assert_eq!(e.code(), Some(Code::BadPreference), "{e}");
                e.field().unwrap_or_default().to_owned()
            }
            Ok(p) => panic!("accepted: {p:?}"),
        }
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let json = match serde_json::to_value(Preferences::default()) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            json,
            json!({"theme": "system", "time_zone": "UTC", "clock": "24h", "density": "comfortable",
                   "enter_sends": true, "notifications": {"browser": false, "default": "mentions"},
                   "show_typing": true, "appear_offline": false, "personalization": true,
                   "sidebar_order": "usage", "emotion_tagging": true, "show_emotions": true})
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let p = match patch(
            json!({"theme": "dark", "time_zone": "Europe/Paris", "notifications": {"browser": true}}),
        ) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let after = Preferences::default().patched(&p);
        assert_eq!(after.theme, Theme::Dark);
        assert_eq!(after.time_zone.name(), "Europe/Paris");
        assert!(after.notifications.browser);
        assert_eq!(after.notifications.default_level, NotifyLevel::Mentions);
        assert_eq!(after.clock, Clock::H24);
        assert_eq!(
            Preferences::default().patched(&Patch::default()),
            Preferences::default()
        );
    }

    #[test]
    fn bad_values_and_unknown_keys_name_their_field() {
        assert_eq!(refused_field(json!({"theme": "blue"})), "theme");
        assert_eq!(
            refused_field(json!({"time_zone": "Mars/Base"})),
            "time_zone"
        );
        assert_eq!(
            refused_field(json!({"time_zone": "europe/paris"})),
            "time_zone"
        );
        assert_eq!(refused_field(json!({"clock": 24})), "clock");
        assert_eq!(refused_field(json!({"density": null})), "density");
        assert_eq!(refused_field(json!({"enter_sends": "yes"})), "enter_sends");
        assert_eq!(
            refused_field(json!({"notifications": true})),
            "notifications"
        );
        assert_eq!(
            refused_field(json!({"notifications": {"default": "some"}})),
            "notifications.default"
        );
        assert_eq!(
            refused_field(json!({"notifications": {"sound": true}})),
            "notifications.sound"
        );
        assert_eq!(refused_field(json!({"colour": "red"})), "colour");
        assert_eq!(
            refused_field(json!({"sidebar_order": "recent"})),
            "sidebar_order"
        );
        let long = "k".repeat(500);
        assert_eq!(refused_field(json!({ long: 1 })).len(), MAX_KEY_SHOWN);
    }

    #[test]
    fn the_sidebar_is_alphabetical_whenever_personalization_is_off() {
        let on = Preferences::default();
        assert_eq!(on.effective_sidebar_order(), SidebarOrder::Usage);
        let off = Preferences {
            personalization: false,
            ..on
        };
        assert_eq!(off.effective_sidebar_order(), SidebarOrder::Alphabetical);
        let chosen = Preferences {
            sidebar_order: SidebarOrder::Alphabetical,
            ..on
        };
        assert_eq!(chosen.effective_sidebar_order(), SidebarOrder::Alphabetical);
    }

    #[test]
    fn levels_parse_and_null_means_the_default() {
        assert!(matches!(
            parse_level(&json!("all")),
            Ok(Some(NotifyLevel::All))
        ));
        assert!(matches!(parse_level(&Value::Null), Ok(None)));
        assert!(parse_level(&json!("loud")).is_err());
    }

    #[test]
    fn zones_offered_are_all_valid_and_include_the_common_ones() {
        let names: Vec<&str> = TimeZone::choices().collect();
        assert!(names.contains(&"UTC") && names.contains(&"America/New_York"));
        assert!(!names.contains(&"US/Eastern"));
        assert!(names.iter().all(|n| TimeZone::parse(n).is_some()));
    }
}
