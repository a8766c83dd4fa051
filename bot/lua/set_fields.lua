-- Set plain fields (severity, commander, a message's ts…) and record why on the timeline.
local inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local require_open, actor, now, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
if require_open == '1' and redis.call('HGET', inc, 'status') ~= 'open' then return {'closed'} end
local changed = 0
for i = 7, #ARGV, 2 do
  if redis.call('HGET', inc, ARGV[i]) ~= ARGV[i + 1] then
    redis.call('HSET', inc, ARGV[i], ARGV[i + 1])
    changed = 1
  end
end
if changed == 1 then bump(inc) end
if etype ~= '' and (changed == 1 or #ARGV < 7) then add_event(stream, seen, event_id, etype, actor, now, data) end
local snap = snapshot(inc, steps)
return {'ok', changed, snap[1], snap[2]}
