-- A cancelled concert's paid orders are paid back: the daily sales show the
-- tickets paid back and the amount on the day of the refund, beside what
-- was sold; a ticket paid back is no longer an attendee, but its code still
-- leads the door to its order, which says why it lets nobody in.
ALTER TABLE sales ADD COLUMN tickets_refunded bigint NOT NULL DEFAULT 0;
ALTER TABLE sales ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0;
ALTER TABLE attendees ADD COLUMN refunded boolean NOT NULL DEFAULT false;
