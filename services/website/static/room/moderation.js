// Acts of moderation on the room page: the sentence each shows between
// messages (as pages/notice.rs words them on the server), and what they
// change on the page for the person they concern.

import { el } from "./dom.js";

/** A length of time, rounded, in the largest unit it reaches: "45 seconds", "10 minutes", "1 hour", "3 days" (as pages/notice.rs). */
export function span(secs) {
  const s = Math.max(0, Math.round(secs));
  const [n, unit] = s < 60 ? [s, "second"] : s < 3570 ? [Math.floor((s + 30) / 60), "minute"] : s < 84600 ? [Math.floor((s + 1800) / 3600), "hour"] : [Math.floor((s + 43200) / 86400), "day"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** The sentence for one `moderation` frame; `name(user)` names people, `when(date)` dates. */
export function describe(m, name, when) {
  const by = name(m.by);
  const target = m.target ? name(m.target) : "";
  const lasting = (forever) => {
    if (!m.until) return forever;
    const until = new Date(m.until);
    return `for ${span((until - new Date(m.at)) / 1000)} (until ${when(until)})`;
  };
  switch (m.action) {
    case "kick": return `${by} removed ${target} from the room`;
    case "ban": return `${by} banned ${target} ${lasting("for good")}`;
    case "unban": return `${by} lifted ${target}'s ban`;
    case "mute": return `${by} muted ${target} ${lasting("until further notice")}`;
    case "unmute": return `${by} unmuted ${target}`;
    case "role": return m.role === "moderator" ? `${by} made ${target} a moderator` : `${by} made ${target} a member`;
    case "owner": return `${by} handed the room over to ${target}`;
    case "topic": return m.topic ? `${by} set the topic: ${m.topic}` : `${by} cleared the topic`;
    case "visibility": return m.visibility === "private" ? `${by} made the room private: members only` : `${by} made the room public`;
    case "slow_mode": return m.slow_mode_secs > 0 ? `${by} turned on slow mode: one message every ${span(m.slow_mode_secs)} per member` : `${by} turned off slow mode`;
    default: return `${by}: ${m.action}`;
  }
}

/** The list item of a `moderation` frame. */
export function noticeElement(m, name, when, time) {
  const li = el("li", "notice");
  li.id = `m${m.seq}`;
  li.dataset.seq = String(m.seq);
  li.dataset.sent = m.at;
  const t = el("time", "", time(new Date(m.at)));
  t.dateTime = m.at;
  li.append(el("span", "notice-text", describe(m, name, when)), " ", t);
  return li;
}
