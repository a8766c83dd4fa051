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
-- Redis TIME plus the sandbox's clock offset (CLOCK_OFFSET, keys.clock_offset, set by scripts.py), so that its
-- "skip ahead" makes due items due here exactly as on the Python side. A deployment never writes the key:
-- then this is one GET of a missing key. Not in KEYS, but it shares the {ib} hash slot with every key that is.
local function now_ms()
  local t = redis.call('TIME')
  local offset = tonumber(redis.call('GET', CLOCK_OFFSET)) or 0
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + offset
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
-- An event for PagerDuty about one role's page, queued in keys.pages (the member is schedule.Due.page's).
local function page_member(id, action, role)
  return 'page|' .. id .. '|' .. action .. '|' .. role
end
-- Page a role: keep the dedup key PagerDuty will know the page by (and the way back from it, for webhooks)
-- and what the page says, then queue the trigger; one waiting trigger per role is enough.
local function queue_trigger(queue, pager, index, id, role, dedup, why)
  redis.call('HSET', pager, 'key:' .. role, dedup, 'why:' .. role, why)
  redis.call('HSET', index, dedup, id .. '|' .. role)
  redis.call('ZADD', queue, 'NX', now_ms(), page_member(id, 'trigger', role))
end
