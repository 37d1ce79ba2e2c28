-- wrk script for the booking accept scenario: POST /bench/bookings with a valid body;
-- each request has its own user_ref, as each would come from another fan.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local sent = 0

request = function()
  sent = sent + 1
  local body = string.format('{"event_id":5,"quantity":2,"user_ref":"fan-%d"}', sent)
  return wrk.format(nil, "/bench/bookings", nil, body)
end
