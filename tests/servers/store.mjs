// Storage for the authorization servers: oidc-provider's development adapter,
// but without its limit. That adapter keeps at most 1,000 entries in one LRU
// shared by every provider in the process, and a sign-in leaves about ten
// (session, grant, interactions, code, tokens): past ~100 accounts it silently
// evicts live grants and refresh tokens, which the server then refuses as
// invalid_grant. Here entries leave only when they expire or are destroyed.
// Same contract: https://github.com/panva/node-oidc-provider/blob/main/example/my_adapter.js

const entries = new Map(); // key -> { value, expiresAt }

function get(key) {
  const entry = entries.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= Date.now()) {
    entries.delete(key);
    return undefined;
  }
  return entry.value;
}

function set(key, value, expiresInSeconds) {
  const expiresAt = typeof expiresInSeconds === 'number' ? Date.now() + expiresInSeconds * 1000 : Infinity;
  entries.set(key, { value, expiresAt });
}

// Expired entries are dropped as they are read, and by this sweep.
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
}, 60_000).unref();

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

/** One adapter per model; `prefix` keeps two providers' entries apart. */
export function memoryAdapter(prefix) {
  return class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${prefix}:${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      if (this.model === 'Session') set(`${prefix}:sessionUid:${payload.uid}`, id, expiresIn);
      if (payload.userCode) set(`${prefix}:userCode:${payload.userCode}`, id, expiresIn);
      if (GRANTABLE.has(this.model) && payload.grantId) {
        const grantKey = `${prefix}:grant:${payload.grantId}`;
        const members = get(grantKey) ?? new Set();
        members.add(key);
        set(grantKey, members);
      }
      set(key, payload, expiresIn);
    }

    async find(id) {
      return get(this.key(id));
    }

    async findByUid(uid) {
      const id = get(`${prefix}:sessionUid:${uid}`);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode) {
      const id = get(`${prefix}:userCode:${userCode}`);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
      const payload = get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      entries.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const grantKey = `${prefix}:grant:${grantId}`;
      for (const key of get(grantKey) ?? []) entries.delete(key);
      entries.delete(grantKey);
    }
  };
}
