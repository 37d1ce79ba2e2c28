# frozen_string_literal: true

# The reference BookingJob: it takes the seats for a booking the edge accepted and
# reports the outcome, as the booking job contract agreed with the legacy team says.
# See README.md beside this file. From the repository root:
#
#   REDIS_URL=redis://127.0.0.1:6379/0 \
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchyard \
#     sidekiq -r ./sidekiq/booking_job.rb -q bookings -c 10
#
# DATABASE_URL must name a role that can write bookings and events, never the edge's
# read-only role. Written for Sidekiq 6.4 (Debian's ruby-sidekiq) with redis-rb 4.

require "json"
require "connection_pool"
require "pg"
require "sidekiq"

# PostgreSQL connections shared by the job threads, opened on first use.
module BookingDatabase
  # Read at boot, so a worker started without it stops at once instead of retrying
  # every job.
  URL = ENV.fetch("DATABASE_URL")

  # One connection per job thread at most: a thread never waits for another's.
  POOL = ConnectionPool.new(size: Sidekiq.options[:concurrency], timeout: 5) do
    # The tables hold UTC in `timestamp without time zone`, as Rails writes them; the
    # setting is part of the connection string, so it survives a reset.
    PG.connect(URL, options: "-c TimeZone=UTC")
  end

  def self.with
    POOL.with do |connection|
      # A connection that broke (say, the database restarted) fails the job that
      # noticed, which Sidekiq retries; it is reopened here before its next use.
      connection.reset unless connection.status == PG::CONNECTION_OK
      yield connection
    end
  end
end

# Sidekiq hands `perform` the args only. The edge puts each booking's lifespan in a
# top-level key of the job, which Sidekiq keeps; this passes it to the job instance.
class BookingLifespan
  def call(job_instance, job, _queue)
    job_instance.lifespan_ms = job["lifespan_ms"] if job_instance.respond_to?(:lifespan_ms=)
    yield
  end
end

# Sidekiq 6.4 calls redis-rb 4.8 (the pair Debian ships) in ways 4.8 deprecates for
# 5.0, which logs a warning on every queue poll. The calls work as they are.
Redis.silence_deprecations = true

Sidekiq.configure_server do |config|
  config.redis = {url: ENV.fetch("REDIS_URL")}
  config.server_middleware { |chain| chain.add BookingLifespan }
end

class BookingJob
  include Sidekiq::Worker

  Booking = Struct.new(:id, :event_id, :user_ref, :quantity, :enqueued_at_ms)

  UUID = /\A\h{8}-\h{4}-\h{4}-\h{4}-\h{12}\z/
  BIGINT_MAX = 2**63 - 1
  # The contract's rule for each argument after the booking id, in order.
  ARG_RULES = {
    event_id: ->(value) { value.is_a?(Integer) && value.between?(1, BIGINT_MAX) },
    user_ref: ->(value) { value.is_a?(String) && value.length.between?(1, 255) },
    quantity: ->(value) { value.is_a?(Integer) && value.between?(1, 10) },
    enqueued_at_ms: ->(value) { value.is_a?(Integer) && value.positive? }
  }.freeze
  RECORD_TTL_SECONDS = 86_400
  CONFIRMED = ["confirmed", ""].freeze
  EXPIRED = ["expired", "lifespan_exceeded"].freeze

  # The first insert of a booking's row: concurrent deliveries of one job queue up
  # behind it, so only one of them ever takes seats.
  CLAIM = <<~SQL
    INSERT INTO bookings (id, event_id, user_ref, quantity, status, enqueued_at,
                          created_at, updated_at)
    VALUES ($1, $2, $3, $4, 'pending', to_timestamp($5 / 1000.0), now(), now())
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  SQL

  # Decrements only while enough seats are left. Concurrent bookings of one event wait
  # for each other's row lock and re-check the condition, so the event is never oversold.
  TAKE_SEATS = <<~SQL
    UPDATE events SET seats_available = seats_available - $1, updated_at = now()
    WHERE id = $2 AND seats_available >= $1
  SQL

  PREVIOUS = "SELECT status, reason FROM bookings WHERE id = $1 FOR UPDATE"

  FINISH = <<~SQL
    UPDATE bookings
    SET status = $2, reason = NULLIF($3, ''), jid = $4, processed_at = now(), updated_at = now()
    WHERE id = $1
  SQL

  # Milliseconds after args[4] past which the booking expires; set by BookingLifespan.
  # A job without one (enqueued by another client) never expires.
  attr_accessor :lifespan_ms

  # When retries are spent, the client learns the booking failed instead of polling
  # `pending` for a day; the job stays in the dead set for an operator to retry.
  sidekiq_retries_exhausted do |job, _error|
    args = job["args"] || []
    next unless args[0].is_a?(String) && UUID.match?(args[0])

    booking = Booking.new(*args.first(5))
    BookingJob.tell(booking, "rejected", "processing_failed", job["jid"])
  end

  # Takes the arguments as a list, so a job with the wrong number of them is rejected
  # like any other broken argument instead of failing and retrying.
  def perform(*args)
    booking_id = args[0]
    # Without a valid id no client can poll the booking, so there is nobody to tell.
    unless booking_id.is_a?(String) && UUID.match?(booking_id)
      return logger.warn("booking rejected: invalid_args:booking_id (#{booking_id.inspect})")
    end

    booking = Booking.new(*args.first(5))
    field = args.length == 5 ? invalid_field(booking) : "args"
    status, reason = field ? ["rejected", "invalid_args:#{field}"] : settle(booking)
    report(booking, status, reason)
  end

  private

  # The name of the first argument that breaks the contract, or nil.
  def invalid_field(booking)
    ARG_RULES.find { |field, valid| !valid.call(booking[field]) }&.first&.to_s
  end

  # Measured from args[4], which retries keep, not from `enqueued_at`, which they reset.
  def expired?(booking)
    lifespan_ms.is_a?(Integer) && now_ms - booking.enqueued_at_ms > lifespan_ms
  end

  # The booking row and the seats change in one transaction: both or neither.
  def settle(booking)
    expired = expired?(booking) # when the job was picked up, not after waiting on locks
    BookingDatabase.with do |db|
      db.transaction do
        # A redelivered job (a retry after a crash, a duplicate push) reports the
        # outcome already recorded and takes no seats again; it is checked before
        # expiry so a late redelivery cannot turn a confirmed booking into an expired one.
        previous = claim(db, booking)
        next previous if previous

        outcome = expired ? EXPIRED : take_seats(db, booking)
        db.exec_params(FINISH, [booking.id, *outcome, jid])
        outcome
      end
    end
  end

  # nil when this delivery inserted the row; the recorded [status, reason] otherwise.
  def claim(db, booking)
    fields = booking.to_a
    return nil if db.exec_params(CLAIM, fields).ntuples == 1

    row = db.exec_params(PREVIOUS, [booking.id]).first
    # `pending` is only ever seen in a row written by someone else: process it now.
    [row["status"], row["reason"].to_s] unless row["status"] == "pending"
  end

  def take_seats(db, booking)
    taken = db.exec_params(TAKE_SEATS, [booking.quantity, booking.event_id]).cmd_tuples == 1
    return CONFIRMED if taken

    known = db.exec_params("SELECT 1 FROM events WHERE id = $1", [booking.event_id]).ntuples == 1
    ["rejected", known ? "sold_out" : "unknown_event"]
  end

  # Runs after the commit, so a client never sees an outcome that was rolled back. If
  # Redis fails here the job is retried, finds its row and reports again.
  def report(booking, status, reason)
    BookingJob.tell(booking, status, reason, jid)
    logger.info("booking #{booking.id}: #{status} #{reason}".rstrip)
  end

  # Writes the status record and publishes the change, as the contract fixes them.
  def self.tell(booking, status, reason, jid)
    key = "booking:#{booking.id}"
    now_ms = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
    fields = {
      "status" => status, "reason" => reason,
      "event_id" => booking.event_id.to_s, "quantity" => booking.quantity.to_s,
      "user_ref" => booking.user_ref.to_s, "jid" => jid.to_s, "processed_at_ms" => now_ms.to_s
    }
    Sidekiq.redis do |redis|
      redis.multi do |transaction|
        transaction.hset(key, fields)
        transaction.expire(key, RECORD_TTL_SECONDS)
      end
      update = JSON.generate({id: booking.id, status: status, reason: reason})
      redis.publish("bookings:updates", update)
    end
  end

  def now_ms
    Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
  end
end
