-- Close the current phase: open steps become skipped; the next phase starts unless this is the last,
-- in which case the incident resolves with the given cause and resolution, nothing scheduled for it may
-- fire any more, PagerDuty is to resolve every page it was sent, and the RCA falls due at `rca_due_ms` with
-- a reminder then (in this same step, so a failure right after resolving cannot lose it).
local inc, steps, stream, seen, open, due, by_playbook = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local queue, pager, rca_due = KEYS[8], KEYS[9], KEYS[10]
local phase, nsteps, last, actor, now = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local event_id, data, cause, resolution = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local rca_member, rca_due_ms = ARGV[10], ARGV[11]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
local status, current, id = unpack(redis.call('HMGET', inc, 'status', 'phase', 'id'))
if status ~= 'open' then return {'closed'} end
if current ~= phase then return {'stale_phase'} end
local skipped = {}
for i = 0, nsteps - 1 do
  local field = phase .. ':' .. i
  if redis.call('HEXISTS', steps, field) == 0 then
    redis.call('HSET', steps, field, cjson.encode({state = 'skipped', by = actor, at = tonumber(now)}))
    table.insert(skipped, i)
  end
end
if #skipped > 0 then
  add_event(stream, seen, event_id .. ':skip', 'steps_skipped', actor, now,
    cjson.encode({phase = tonumber(phase), steps = skipped}))
end
add_event(stream, seen, event_id, 'phase_completed', actor, now, data)
responded(inc, actor, now)
redis.call('HSET', inc, 'phase', tonumber(phase) + 1, 'phase_started:' .. (tonumber(phase) + 1), now)
if last == '1' then
  redis.call('HSET', inc, 'status', 'resolved', 'resolved_at', now, 'resolved_by', actor,
    'cause', cause, 'resolution', resolution)
  if redis.call('SREM', open, id) == 1 then
    redis.call('HINCRBY', by_playbook, redis.call('HGET', inc, 'playbook'), -1)
  end
  for i = 12, #ARGV do redis.call('ZREM', due, ARGV[i]) end
  if not redis.call('HGET', inc, 'rca_status') then
    redis.call('HSET', inc, 'rca_status', 'due', 'rca_due_at', rca_due_ms)
    redis.call('ZADD', rca_due, 'NX', rca_due_ms, rca_member)
  end
  for _, field in ipairs(redis.call('HKEYS', pager)) do
    local role = string.match(field, '^key:(.+)$')
    if role then redis.call('ZADD', queue, 'NX', now_ms(), page_member(id, 'resolve', role)) end
  end
  add_event(stream, seen, event_id .. ':resolved', 'resolved', actor, now,
    cjson.encode({cause = cause, resolution = resolution}))
end
bump(inc)
local snap = snapshot(inc, steps)
return {'ok', snap[1], snap[2]}
