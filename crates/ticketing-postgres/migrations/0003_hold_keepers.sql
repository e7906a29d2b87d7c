-- holds: a hold is kept by its concert, or by one of the concert's buckets
-- when the concert sells from buckets. The column names the stream that
-- keeps it (where its expiry appends), which is not always the concert.
ALTER TABLE holds RENAME COLUMN concert_id TO keeper_id;
