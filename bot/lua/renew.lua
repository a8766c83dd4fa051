-- The heartbeat: renew every lease one replica holds, in one call, each only while that replica is still
-- its owner (a claim that ran out and was taken by another, or finished, is not revived). KEYS are
-- (due set, job) per item, ARGV[3..] the members. Returns per item 1 (renewed), 0 (gone: finished or
-- dropped) or 2 (another replica owns it now).
local owner, lease_ms = ARGV[1], tonumber(ARGV[2])
local until_ms = now_ms() + lease_ms
local out = {}
for i = 0, #KEYS / 2 - 1 do
  local due, job, member = KEYS[i * 2 + 1], KEYS[i * 2 + 2], ARGV[i + 3]
  local holder = redis.call('HGET', job, 'owner')
  if not redis.call('ZSCORE', due, member) then
    out[#out + 1] = 0
  elseif holder == owner then
    redis.call('ZADD', due, until_ms, member)
    out[#out + 1] = 1
  else
    out[#out + 1] = holder and 2 or 0
  end
end
return out
