-- Claim due items for `lease_ms`, a batch at once: each one's score moves a lease ahead and its job records
-- this replica as owner, so if the replica dies another takes the item once the lease runs out (the
-- scheduler's heartbeat renews it while the work goes on: renew.lua). KEYS are keys.reserved_due, then
-- (due set, job, live hash) per item; ARGV[4..] are (member, reserved score, due score, live field, live
-- value, met field) per item. The job's due is the score the item had before any reserve moved it.
-- An item reserved by reserve.lua must still have the score it was moved to (else another replica took it
-- since); one not reserved ('' score) must be due now. Cancelled items are dropped here: the live hash's
-- `live_field` no longer holds `live_value` (status=open for escalations; rca_status=due for an RCA
-- reminder), or the field `met_field` is set (acknowledged_at for the acknowledge target; '' when none).
-- Returns Redis now, then per item {'claimed', attempt, due score} or {'taken'|'not_due'|'cancelled'}
-- or {'gave_up', attempts}.
local owner, lease_ms, max_attempts = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local firsts = KEYS[1]
local now = now_ms()
local out = {now}
local function claim(due, job, inc, member, reserved, due_score, live_field, live_value, met_field)
  local score = redis.call('ZSCORE', due, member)
  if reserved ~= '' then
    if not score or tonumber(score) ~= tonumber(reserved) then return {'taken'} end
    score = due_score
  elseif not score or tonumber(score) > now then
    return {'not_due'}
  end
  local first = redis.call('ZSCORE', firsts, member)
  redis.call('ZREM', firsts, member)
  if redis.call('HGET', inc, live_field) ~= live_value or redis.call('HGET', job, 'sent') == '1'
      or (met_field ~= '' and redis.call('HEXISTS', inc, met_field) == 1) then
    redis.call('ZREM', due, member)
    redis.call('DEL', job)
    return {'cancelled'}
  end
  if redis.call('HEXISTS', job, 'due') == 0 then redis.call('HSET', job, 'due', first or score) end
  local attempt = redis.call('HINCRBY', job, 'attempts', 1)
  if attempt > max_attempts then
    -- A ping Slack keeps refusing (archived channel…) must not be retried forever.
    redis.call('ZREM', due, member)
    redis.call('DEL', job)
    return {'gave_up', attempt}
  end
  redis.call('HSET', job, 'owner', owner)
  redis.call('ZADD', due, now + lease_ms, member)
  return {'claimed', attempt, redis.call('HGET', job, 'due')}
end
for i = 0, (#KEYS - 1) / 3 - 1 do
  local a = 4 + i * 6
  out[#out + 1] = claim(KEYS[i * 3 + 2], KEYS[i * 3 + 3], KEYS[i * 3 + 4], ARGV[a], ARGV[a + 1], ARGV[a + 2],
    ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
end
return out
