-- The catalogue GET /api/items lists. Unqualified: the migrator's search_path is the
-- application schema (DB_SCHEMA), so this file does not depend on its name.
CREATE TABLE items (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    description text NOT NULL,
    price numeric(10, 2) NOT NULL CHECK (price >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
