//! The Lua scripts run in Redis: each one atomic, each reading Redis's own clock (`TIME`), never
//! a replica's.

use std::sync::LazyLock;

use redis::Script;

/// Takes a session lease under a client's cap, after checking the revocation keys.
///
/// `KEYS[1]` the client's lease set, `KEYS[2]` the client's revocation key, `KEYS[3]` (when
/// present) the token's revocation key. `ARGV[1]` the lease member, `ARGV[2]` the cap (`-1`:
/// none, so no lease is taken), `ARGV[3]` the lease TTL in ms.
///
/// Returns `{status, count}`: status `1` taken (or nothing to take), `0` the cap is reached,
/// `-1` the client is revoked, `-2` the token is revoked; count is the client's live leases
/// (the new one included when taken).
const LEASE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0} end
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then return {-2, 0} end
local cap = tonumber(ARGV[2])
if cap < 0 then return {1, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= cap then return {0, n} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local last = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1000)
return {1, n + 1}
";

/// Refreshes this replica's leases and reports which revocation keys exist.
///
/// `KEYS[1..n]` the lease sets of the `n` leases, then the revocation keys to check.
/// `ARGV[1]` the lease TTL in ms, `ARGV[2]` `n`, `ARGV[3..n+2]` the lease members. Leases are
/// added whether or not they are still there, so those lost in an outage come back.
///
/// Returns the 1-based positions (among the revocation keys) of those that exist.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('ZADD', KEYS[i], now + ttl, ARGV[i + 2])
  local last = redis.call('ZREVRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[i], math.floor(tonumber(last[2])) + 1000)
end
local revoked = {}
for i = n + 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then revoked[#revoked + 1] = i - n end
end
return revoked
";

/// GCRA rate limit: one handshake (or grant) from an IP bucket.
///
/// `KEYS[1]` the bucket's theoretical arrival time, `ARGV[1]` the emission interval in ms
/// (1000 / rate), `ARGV[2]` the burst. Returns `{allowed, retry_after_ms}`.
const RATE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - (burst - 1) * interval
if now < allow_at then return {0, math.ceil(allow_at - now)} end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', new), 'PX', math.ceil(new - now) + 1)
return {1, 0}
";

pub(super) static LEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(LEASE));
pub(super) static HEARTBEAT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(HEARTBEAT));
pub(super) static RATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RATE));
