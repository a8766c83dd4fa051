-- Before a delivery is recorded: is the group's incident open (or still being declared)? If not, does this
-- delivery start a new cycle? Only an alert state the group has not recorded does, so a re-send of what the
-- last incident showed opens nothing; a failed declare is tried again. A new cycle forgets the last one's
-- alerts and takes the next incident number (declare) or waits for a person (suggest).
-- `expected` is the incident the caller read, so `current` is the one whose key it passed.
local group, seen, current, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local expected, mode = ARGV[1], ARGV[2]
if (redis.call('HGET', group, 'incident') or '') ~= expected then return {'retry'} end
local fresh = false
if expected ~= '' then
  local status = redis.call('HGET', current, 'status')
  if not status or status == 'open' then return {'open', expected} end
  fresh = status == 'failed'
end
if redis.call('HGET', group, 'suggested') == '1' then return {'suggested'} end
for i = 3, #ARGV do
  if redis.call('SISMEMBER', seen, ARGV[i]) == 0 then fresh = true end
end
if not fresh then return {'quiet'} end
redis.call('DEL', seen)
redis.call('HDEL', group, 'incident', 'alerts', 'resolved_noted', 'suggest_ts', 'suggest_channel')
if mode == 'suggest' then
  redis.call('HSET', group, 'suggested', '1')
  return {'suggest'}
end
local id = tostring(redis.call('INCR', seq))
redis.call('HSET', group, 'incident', id)
return {'new', id}
