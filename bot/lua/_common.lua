-- Shared by every script that writes: a timeline append that drops an event id already seen (redis-py
-- may resend a script after a dropped connection), the incident as a snapshot, and Redis's own clock.
local function add_event(stream, seen, id, etype, actor, at, data)
  if redis.call('SADD', seen, id) == 1 then
    redis.call('XADD', stream, '*', 'id', id, 'type', etype, 'actor', actor, 'at', at, 'data', data)
  end
end
local function snapshot(inc, steps)
  return {redis.call('HGETALL', inc), redis.call('HGETALL', steps)}
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The incident changed: every message showing it may be stale.
local function bump(inc)
  redis.call('HINCRBY', inc, 'version', 1)
end
-- Someone began responding (a step done, a phase completed, an escalation acknowledged): the first time
-- meets the playbook's acknowledge target. Returns 1 when this was the first.
local function responded(inc, actor, now)
  if redis.call('HSETNX', inc, 'acknowledged_at', now) == 0 then return 0 end
  redis.call('HSET', inc, 'acknowledged_by', actor)
  return 1
end
