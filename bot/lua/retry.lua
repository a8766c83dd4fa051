-- Send a claimed item again in `delay_ms`: PagerDuty failed or asked to slow down (the attempt counts), or an
-- earlier event about the same page is still waiting (it does not count). Only the claim's owner may.
local due, job = KEYS[1], KEYS[2]
local member, owner, delay_ms, counted = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if redis.call('HGET', job, 'owner') ~= owner then return 0 end
redis.call('HDEL', job, 'owner')
if counted == '0' then redis.call('HINCRBY', job, 'attempts', -1) end
redis.call('ZADD', due, 'XX', now_ms() + delay_ms, member)
return 1
