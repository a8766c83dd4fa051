-- Done / Undo on one step of the current phase. {'ok', 1, declared_at} when this Done was the first response.
-- A click also names its channel, its playbook and the part to draw (`incident` and `token` not empty): the
-- channel must be this incident's ('not_incident', 'other' otherwise: the channel is the authority, the ids a
-- button carries are only claims), and the phase message's lock is taken here when it is free, so the click
-- costs one round trip before drawing. Like lock_part.lua, the part is marked dirty before the lock is tried;
-- the 4th element is then the state to draw (incident, steps, shown digest), or false when another caller
-- holds the lock (it checks the version before letting go, so it draws this change too).
local inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local chan, lock, rendered, dirty = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local phase, step, action, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local incident, book, token, lock_ms, part, member = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
if incident ~= '' then
  local owner = redis.call('GET', chan)
  if not owner then return {'not_incident'} end
  if owner ~= incident then return {'other'} end
end
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
local status, current, playbook = unpack(redis.call('HMGET', inc, 'status', 'phase', 'playbook'))
if book ~= '' and playbook ~= book then return {'other'} end
if status ~= 'open' then return {'closed'} end
if current ~= phase then return {'stale_phase'} end
local field = phase .. ':' .. step
local existing = redis.call('HGET', steps, field)
local etype = nil
local first = 0
if action == 'done' and not existing then
  redis.call('HSET', steps, field, cjson.encode({state = 'done', by = actor, at = tonumber(now)}))
  etype = 'step_done'
  first = responded(inc, actor, now)
elseif action == 'undo' and existing then
  redis.call('HDEL', steps, field)
  etype = 'step_undone'
end
local outcome = 'same'
if etype then
  bump(inc)
  add_event(stream, seen, event_id, etype, actor, now, data)
  outcome = 'ok'
end
local drawing = false
if token ~= '' then
  -- "same" too: the message may still show an older state (another replica's failed render).
  redis.call('ZADD', dirty, 'LT', now_ms(), member)
  if redis.call('SET', lock, token, 'NX', 'PX', lock_ms) then
    local snap = snapshot(inc, steps)
    drawing = {snap[1], snap[2], redis.call('HGET', rendered, part .. '#') or ''}
  end
end
return {outcome, first, redis.call('HGET', inc, 'declared_at'), drawing}
