-- Orders are paid after checkout: an order is listed from its placing with
-- where its payment stands; orders placed before payments existed were paid
-- as placed.
ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'paid';
