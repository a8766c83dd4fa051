-- A replica shutting down hands back a claim it could not finish, so another takes it at once instead
-- of waiting out the lease. Not confirmed: it never posted, so the next attempt counts as a first one.
-- Confirmed: it may have posted, so the next claimant looks for that post first (attempt > 1).
local due, job = KEYS[1], KEYS[2]
local member, owner = ARGV[1], ARGV[2]
if redis.call('HGET', job, 'owner') ~= owner then return 0 end
redis.call('HDEL', job, 'owner')
if redis.call('HEXISTS', job, 'confirmed') == 1 then
  redis.call('ZADD', due, now_ms(), member)
else
  redis.call('HINCRBY', job, 'attempts', -1)
  redis.call('ZADD', due, redis.call('HGET', job, 'due'), member)
end
return 1
