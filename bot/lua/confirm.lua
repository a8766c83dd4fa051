-- The last word before posting: is the item still wanted (as in CLAIM) and, for a phase reminder, is
-- the incident still in that phase? If so the event goes on the timeline now, so a resolve (or, for the
-- acknowledge target, a first response) can never come before it, along with what the message will need
-- to be drawn again later (`ARGV[15..]` pairs; they change the incident, so its version goes up).
-- When the item posts a part (`part_member`, its entry in the dirty set), the part is marked dirty and its
-- first post under way (KEYS[10..11], for `posting_ms`), as store.mark_posting does: if the post fails or
-- the process dies, the sweep finds it.
-- The first confirm of an escalation also pages the roles in `pages` (JSON [{role, key, why}]) through
-- PagerDuty; a retry after a crash confirms again but never pages again. The claim's lease is renewed
-- here, the last check of ownership before the post, so the post starts with a whole lease ahead of it.
local due, job, inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local queue, pager, index, posting, dirty = KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local member, owner, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local need_phase, set_severity, live_field, live_value, met_field = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local pages, lease_ms, part_member, posting_ms = ARGV[11], tonumber(ARGV[12]), ARGV[13], ARGV[14]
if redis.call('HGET', job, 'owner') ~= owner or not redis.call('ZSCORE', due, member) then return {'lost'} end
local live, phase, severity, id = unpack(redis.call('HMGET', inc, live_field, 'phase', 'severity', 'id'))
if live ~= live_value or (need_phase ~= '' and phase ~= need_phase)
    or (met_field ~= '' and redis.call('HEXISTS', inc, met_field) == 1) then
  redis.call('ZREM', due, member)
  redis.call('DEL', job)
  return {'cancelled'}
end
local now = now_ms()
redis.call('ZADD', due, now + lease_ms, member)
if redis.call('HSETNX', job, 'confirmed', now) == 1 then
  for _, page in ipairs(cjson.decode(pages)) do queue_trigger(queue, pager, index, id, page.role, page.key, page.why) end
end
redis.call('HSET', inc, 'sending', member)
for i = 15, #ARGV, 2 do redis.call('HSET', inc, ARGV[i], ARGV[i + 1]) end
if #ARGV >= 15 then bump(inc) end
if part_member ~= '' then
  redis.call('SET', posting, '1', 'PX', posting_ms)
  redis.call('ZADD', dirty, 'LT', now, part_member)
end
add_event(stream, seen, event_id, etype, 'bot', now, data)
if set_severity ~= '' and severity ~= set_severity then
  redis.call('HSET', inc, 'severity', set_severity)
  bump(inc)
  add_event(stream, seen, event_id .. ':sev', 'severity_changed', 'bot', now,
    cjson.encode({from = severity, to = set_severity, reason = 'escalation'}))
end
local snap = snapshot(inc, steps)
return {'ok', snap[1], snap[2]}
