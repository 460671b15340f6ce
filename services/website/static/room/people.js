// Who the people on the room page are called. Frames name users by their
// username (the event log never changes); pages show display names. The
// server puts the names of everyone the page shows in #room's data-people; anyone
// else is asked for once (GET /api/v1/users/{username}) and shown by their
// username until the answer comes.

export class People {
  constructor(initial) {
    /** id -> {username, name} */
    this.known = new Map();
    for (const [id, p] of Object.entries(initial || {})) this.known.set(Number(id), p);
    this.asked = new Set();
    this.listeners = [];
  }

  /** The page's people, from the JSON of an element's `data-people`. */
  static fromPage(element) {
    try {
      return new People(element && element.dataset.people ? JSON.parse(element.dataset.people) : {});
    } catch {
      return new People({});
    }
  }

  /** The name to show for a frame's `{id, name}`: the display name once known. */
  name(user) {
    const p = this.known.get(user.id);
    if (p) return p.name;
    this.ask(user);
    return user.name;
  }

  /** Calls `f(id, {username, name})` whenever someone's name is learnt. */
  onLearn(f) {
    this.listeners.push(f);
  }

  ask(user) {
    if (this.asked.has(user.id) || !user.name) return;
    this.asked.add(user.id);
    fetch(`/api/v1/users/${encodeURIComponent(user.name)}`, { credentials: "same-origin" })
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        if (!body || !body.user || body.user.id !== user.id) return;
        const p = { username: body.user.username, name: body.user.display_name || body.user.username };
        this.known.set(user.id, p);
        for (const f of this.listeners) f(user.id, p);
      })
      .catch(() => {}); // the username stays: nothing is lost
  }
}
