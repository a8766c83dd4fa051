-- A replica processed a group's deliveries up to `last_seq`: they leave the inbox (recording them again would
-- change nothing, so this is safe even from a replica whose lease ran out). If the claim is still ours, the
-- item goes: back to the queue now when deliveries arrived meanwhile, at `retry_at` when notes are left to
-- post (attempts keep counting, so a part Slack keeps refusing is given up), otherwise it is done.
local due, job, group, inbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member, owner, last_seq, retry_at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('ZREMRANGEBYSCORE', inbox, '-inf', last_seq)
if redis.call('HGET', job, 'owner') ~= owner then return 'lost' end
local more = redis.call('ZCARD', inbox) > 0
if retry_at ~= '' then
  redis.call('HDEL', job, 'owner')
  redis.call('ZADD', due, more and now_ms() or tonumber(retry_at), member)
  return 'retry'
end
redis.call('DEL', job)
if more then
  redis.call('ZADD', due, now_ms(), member)
  return 'more'
end
redis.call('ZREM', due, member)
redis.call('HDEL', group, 'queued')
return 'done'
