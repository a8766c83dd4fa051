"""Every atomic state change, as a Lua script. Each unpacks KEYS/ARGV into named locals first.

A change bumps the incident's `version`; message rendering uses it so an older state never
overwrites a newer one in Slack. Timeline writes go through add_event, which drops an event id it
has seen before (redis-py may resend a script after a dropped connection).
"""

from __future__ import annotations

_COMMON = """
local function add_event(stream, seen, id, etype, actor, at, data)
  if redis.call('SADD', seen, id) == 1 then
    redis.call('XADD', stream, '*', 'id', id, 'type', etype, 'actor', actor, 'at', at, 'data', data)
  end
end
local function snapshot(inc, steps)
  return {redis.call('HGETALL', inc), redis.call('HGETALL', steps)}
end
"""

CREATE = _COMMON + """
local inc, idem, open, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, ttl, event_id, actor, at, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local existing = redis.call('GET', idem)
if existing then return {'dup', existing} end
redis.call('SET', idem, id, 'EX', ttl)
for i = 7, #ARGV, 2 do redis.call('HSET', inc, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', inc, 'version', 1)
redis.call('SADD', open, id)
add_event(stream, seen, event_id, 'declared', actor, at, data)
return {'ok', id}
"""

# Done / Undo on one step of the current phase; takes the render lock when free.
STEP = _COMMON + """
local inc, steps, stream, seen, lock = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local phase, step, action, actor, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local event_id, data, token, lock_ms = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
local status, current = unpack(redis.call('HMGET', inc, 'status', 'phase'))
if status ~= 'open' then return {'closed'} end
if current ~= phase then return {'stale_phase'} end
local field = phase .. ':' .. step
local existing = redis.call('HGET', steps, field)
local etype = nil
if action == 'done' and not existing then
  redis.call('HSET', steps, field, cjson.encode({state = 'done', by = actor, at = now}))
  etype = 'step_done'
elseif action == 'undo' and existing then
  redis.call('HDEL', steps, field)
  etype = 'step_undone'
end
if etype then
  redis.call('HINCRBY', inc, 'version', 1)
  add_event(stream, seen, event_id, etype, actor, now, data)
end
local changed = etype and 1 or 0
-- Only a change needs rendering; a no-op click leaves the message to whoever holds the lock.
if changed == 1 and redis.call('SET', lock, token, 'NX', 'PX', lock_ms) then
  local snap = snapshot(inc, steps)
  return {'ok', changed, snap[1], snap[2]}
end
return {'ok', changed}
"""

# Close the current phase: open steps become skipped; the next phase starts unless this is the last,
# in which case the incident resolves with the given cause and resolution.
COMPLETE = _COMMON + """
local inc, steps, stream, seen, open, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local phase, nsteps, last, actor, now = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local event_id, data, cause, resolution = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
local status, current, id = unpack(redis.call('HMGET', inc, 'status', 'phase', 'id'))
if status ~= 'open' then return {'closed'} end
if current ~= phase then return {'stale_phase'} end
local skipped = {}
for i = 0, nsteps - 1 do
  local field = phase .. ':' .. i
  if redis.call('HEXISTS', steps, field) == 0 then
    redis.call('HSET', steps, field, cjson.encode({state = 'skipped', by = actor, at = now}))
    table.insert(skipped, i)
  end
end
if #skipped > 0 then
  add_event(stream, seen, event_id .. ':skip', 'steps_skipped', actor, now,
    cjson.encode({phase = tonumber(phase), steps = skipped}))
end
add_event(stream, seen, event_id, 'phase_completed', actor, now, data)
redis.call('HSET', inc, 'phase', tonumber(phase) + 1)
if last == '1' then
  redis.call('HSET', inc, 'status', 'resolved', 'resolved_at', now, 'resolved_by', actor,
    'cause', cause, 'resolution', resolution)
  redis.call('SREM', open, id)
  -- Nothing scheduled for this incident may fire once it is resolved.
  for i = 10, #ARGV do redis.call('ZREM', due, ARGV[i]) end
  add_event(stream, seen, event_id .. ':resolved', 'resolved', actor, now,
    cjson.encode({cause = cause, resolution = resolution}))
end
redis.call('HINCRBY', inc, 'version', 1)
local snap = snapshot(inc, steps)
return {'ok', cjson.encode(skipped), snap[1], snap[2]}
"""

# Set plain fields (severity, commander, message ts…) and record why on the timeline.
SET_FIELDS = _COMMON + """
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
if changed == 1 then redis.call('HINCRBY', inc, 'version', 1) end
if etype ~= '' and (changed == 1 or #ARGV < 7) then add_event(stream, seen, event_id, etype, actor, now, data) end
local snap = snapshot(inc, steps)
return {'ok', changed, snap[1], snap[2]}
"""

LOCK = """
local lock, inc, steps = KEYS[1], KEYS[2], KEYS[3]
local token, lock_ms = ARGV[1], ARGV[2]
if redis.call('SET', lock, token, 'NX', 'PX', lock_ms) then
  return {redis.call('HGETALL', inc), redis.call('HGETALL', steps)}
end
return false
"""

# After a chat.update: record what Slack now shows; hand back newer state to render, or let go.
RENDERED = """
local inc, steps, rendered, lock = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local target, token, version, lock_ms = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if version >= 0 then
  local shown = tonumber(redis.call('HGET', rendered, target) or '-1')
  if version > shown then redis.call('HSET', rendered, target, version) end
end
if redis.call('GET', lock) ~= token then return false end
local current = tonumber(redis.call('HGET', inc, 'version') or '0')
if version >= 0 and current > version then
  redis.call('PEXPIRE', lock, lock_ms)
  return {redis.call('HGETALL', inc), redis.call('HGETALL', steps)}
end
redis.call('DEL', lock)
return false
"""

# A declare whose channel could not be created: keep the record, stop everything scheduled.
ABANDON = _COMMON + """
local inc, stream, seen, open = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, actor, now, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('HSET', inc, 'status', 'failed')
redis.call('HINCRBY', inc, 'version', 1)
redis.call('SREM', open, id)
add_event(stream, seen, event_id, etype, actor, now, data)
return 1
"""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Scheduled work that is due, by the one clock every replica shares (Redis TIME). O(log n + k).
DUE = _NOW + """
local limit = ARGV[1]
local out = {}
-- One or more sorted sets (escalations, RCA reminders), each read up to `limit`.
for _, due in ipairs(KEYS) do
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)) do
    out[#out + 1] = member
  end
end
return out
"""

# Take a due item for `lease_ms`: its score moves forward, so if this replica dies another takes it
# once the lease runs out. Cancelled items are dropped here: the incident field `live_field` no longer
# holds `live_value` (status=open for escalations; rca_status=due for an RCA reminder).
CLAIM = _NOW + """
local due, job, inc = KEYS[1], KEYS[2], KEYS[3]
local member, owner, lease_ms, max_attempts = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local live_field, live_value = ARGV[5] or 'status', ARGV[6] or 'open'
local score = redis.call('ZSCORE', due, member)
if not score or tonumber(score) > now then return {'not_due'} end
if redis.call('HGET', inc, live_field) ~= live_value or redis.call('HGET', job, 'sent') == '1' then
  redis.call('ZREM', due, member)
  redis.call('DEL', job)
  return {'cancelled'}
end
if redis.call('HEXISTS', job, 'due') == 0 then redis.call('HSET', job, 'due', score) end
local attempt = redis.call('HINCRBY', job, 'attempts', 1)
if attempt > max_attempts then
  -- A ping Slack keeps refusing (archived channel…) must not be retried forever.
  redis.call('ZREM', due, member)
  redis.call('DEL', job)
  return {'gave_up', attempt}
end
redis.call('HSET', job, 'owner', owner)
redis.call('ZADD', due, now + lease_ms, member)
return {'claimed', attempt, redis.call('HGET', job, 'due'), now}
"""

# The last word before posting: is the item still wanted (incident open, or RCA not reviewed) and,
# for a phase reminder, is the incident still in that phase? If so the event goes on the timeline
# now, so a resolve can never come before it.
CONFIRM = _COMMON + _NOW + """
local due, job, inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local member, owner, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local need_phase, set_severity = ARGV[6], ARGV[7]
local live_field, live_value = ARGV[8] or 'status', ARGV[9] or 'open'  -- as in CLAIM
if redis.call('HGET', job, 'owner') ~= owner then return {'lost'} end
local live, phase, severity = unpack(redis.call('HMGET', inc, live_field, 'phase', 'severity'))
if live ~= live_value or (need_phase ~= '' and phase ~= need_phase) then
  redis.call('ZREM', due, member)
  redis.call('DEL', job)
  return {'cancelled'}
end
redis.call('HSET', job, 'confirmed', now)
redis.call('HSET', inc, 'sending', member)
add_event(stream, seen, event_id, etype, 'bot', now, data)
if set_severity ~= '' and severity ~= set_severity then
  redis.call('HSET', inc, 'severity', set_severity)
  redis.call('HINCRBY', inc, 'version', 1)
  add_event(stream, seen, event_id .. ':sev', 'severity_changed', 'bot', now,
    cjson.encode({from = severity, to = set_severity, reason = 'escalation'}))
end
local snap = snapshot(inc, steps)
return {'ok', snap[1], snap[2]}
"""

FINISH = """
local due, job, inc = KEYS[1], KEYS[2], KEYS[3]
local member = ARGV[1]
redis.call('ZREM', due, member)
redis.call('DEL', job)
if redis.call('HGET', inc, 'sending') == member then redis.call('HDEL', inc, 'sending') end
return 1
"""


# ---------------------------------------------------------------- status updates and the RCA

# A status update: on the timeline once per event id (a resubmitted modal adds nothing), counted in
# `status_updates`. Only an open incident takes one, except the resolved update resolve itself posts.
# No version bump: no message shows the count, so nothing needs rendering again.
STATUS_UPDATE = _COMMON + """
local inc, steps, stream, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local require_open, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
if require_open == '1' and redis.call('HGET', inc, 'status') ~= 'open' then return {'closed'} end
if redis.call('SISMEMBER', seen, event_id) == 1 then return {'dup'} end
add_event(stream, seen, event_id, 'status_update', actor, now, data)
redis.call('HINCRBY', inc, 'status_updates', 1)
local snap = snapshot(inc, steps)
return {'ok', snap[1], snap[2]}
"""

# Resolved: the RCA is now due, and one reminder is scheduled for when it falls due.
RCA_SCHEDULE = """
local inc, due = KEYS[1], KEYS[2]
local member, due_ms = ARGV[1], ARGV[2]
if redis.call('HGET', inc, 'rca_status') then return 0 end
redis.call('HSET', inc, 'rca_status', 'due', 'rca_due_at', due_ms)
redis.call('HINCRBY', inc, 'version', 1)
redis.call('ZADD', due, 'NX', due_ms, member)
return 1
"""

# Mark the RCA reviewed, once; its reminder is dropped (CLAIM and CONFIRM check again in a race).
RCA_REVIEWED = _COMMON + """
local inc, steps, stream, seen, due, job = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local member, actor, now, event_id, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
local rca = redis.call('HGET', inc, 'rca_status')
if rca == 'reviewed' then return {'already', redis.call('HGET', inc, 'rca_reviewed_by')} end
if rca ~= 'due' then return {'not_due'} end
redis.call('HSET', inc, 'rca_status', 'reviewed', 'rca_reviewed_by', actor, 'rca_reviewed_at', now)
redis.call('HINCRBY', inc, 'version', 1)
redis.call('ZREM', due, member)
redis.call('DEL', job)
add_event(stream, seen, event_id, 'rca_reviewed', actor, now, data)
local snap = snapshot(inc, steps)
return {'ok', snap[1], snap[2]}
"""
