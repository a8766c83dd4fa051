-- Record one delivery's alerts for the group's open incident (or its pending suggestion: then only the group
-- keeps them). Each alert state ("fingerprint|startsAt|status", ARGV pairs with the alert's row as JSON) is
-- recorded once: on the alert list, and on the timeline. An alert firing that the incident did not open with
-- becomes one note for the channel; the whole group resolved becomes one "all resolved" note, posted again
-- only after something fired anew.
local group, seen, inc, stream, tseen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local status, actor, now, max_rows = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local linked = redis.call('HGET', inc, 'status') == 'open'
local opening = redis.call('SCARD', seen) == 0
local rows = cjson.decode(redis.call('HGET', group, 'alerts') or '[]')
local changed, fresh, notes = false, {}, {}
for i = 5, #ARGV, 2 do
  local key, row_json = ARGV[i], ARGV[i + 1]
  if redis.call('SADD', seen, key) == 1 then
    changed = true
    local row = cjson.decode(row_json)
    local found = false
    for j, existing in ipairs(rows) do
      if existing.fp == row.fp then
        rows[j] = row
        found = true
      end
    end
    if not found and #rows < max_rows then rows[#rows + 1] = row end
    if linked then add_event(stream, tseen, 'alert:' .. key, 'alert_' .. row.status, actor, now, row_json) end
    if row.status == 'firing' and not opening then fresh[#fresh + 1] = row end
  end
end
local function note(body)
  local n = redis.call('HINCRBY', inc, 'alert_notes', 1)
  redis.call('HSET', inc, 'alert_note:' .. n, cjson.encode(body))
  notes[#notes + 1] = n
end
if #fresh > 0 then
  redis.call('HDEL', group, 'resolved_noted')
  if linked then note({kind = 'firing', alerts = fresh}) end
end
if status == 'resolved' then
  if not linked then
    redis.call('HDEL', group, 'suggested')  -- nobody declared it; the next firing suggests again
  elseif redis.call('HSETNX', group, 'resolved_noted', '1') == 1 then
    note({kind = 'resolved'})
  end
end
if changed then
  local list = #rows > 0 and cjson.encode(rows) or '[]'
  redis.call('HSET', group, 'alerts', list)
  if linked then redis.call('HSET', inc, 'alerts', list) end
end
if linked and (changed or #notes > 0) then bump(inc) end
return {linked and 1 or 0, changed and 1 or 0, notes}
