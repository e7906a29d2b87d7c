-- catalogue: a concert's profile (description, genre, poster, and whatever a
-- later release adds) is kept whole, as the JSON the concert's events carry,
-- so that a new field of it needs no column. The genre keeps a column of its
-- own: search filters on it.
ALTER TABLE catalogue ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
UPDATE catalogue
   SET profile = json_build_object('description', description, 'genre', genre, 'imageUrl', image_url)::text;
ALTER TABLE catalogue DROP COLUMN description, DROP COLUMN image_url;
