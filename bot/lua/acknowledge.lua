-- Someone picks up escalation pings: each of `levels` that was sent and not yet acknowledged is marked
-- acknowledged by `actor`. When that changed anything, or `note` is set (an event from PagerDuty worth keeping
-- even when no level changed), the event goes on the timeline, once per event id. An acknowledgement made in
-- Slack is passed on to PagerDuty for each of `page_roles` that was paged.
local inc, steps, stream, seen, queue, pager = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local actor, now, event_id, etype, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local levels, page_roles, note = cjson.decode(ARGV[6]), cjson.decode(ARGV[7]), ARGV[8]
if redis.call('EXISTS', inc) == 0 then return {'gone'} end
if redis.call('SISMEMBER', seen, event_id) == 1 then return {'dup'} end
local acked, sent, by = {}, false, ''
local id = redis.call('HGET', inc, 'id')
for _, level in ipairs(levels) do
  -- A ping is sent once its escalation event is on the timeline (older pings have no ping_at field).
  if redis.call('HEXISTS', inc, 'ping_at:' .. level) == 1
      or redis.call('SISMEMBER', seen, 'esc:esc|' .. id .. '|' .. level) == 1 then
    sent = true
    local who = redis.call('HGET', inc, 'ack_by:' .. level)
    if who then
      by = who
    else
      redis.call('HSET', inc, 'ack_by:' .. level, actor, 'ack_at:' .. level, now)
      acked[#acked + 1] = level
    end
  end
end
if #acked == 0 and note ~= '1' then return {sent and 'already' or 'not_sent', by} end
add_event(stream, seen, event_id, etype, actor, now, data)
local first = 0
if #acked > 0 then
  bump(inc)
  first = responded(inc, actor, now)
  for _, role in ipairs(page_roles) do
    if redis.call('HEXISTS', pager, 'key:' .. role) == 1 then
      redis.call('HSET', pager, 'ack_sent:' .. role, '1')
      redis.call('ZADD', queue, 'NX', now_ms(), page_member(id, 'acknowledge', role))
    end
  end
end
return {'ok', first, redis.call('HGET', inc, 'declared_at'), acked}
