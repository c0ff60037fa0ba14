-- Lucia v3 peer: its own schema. Lucia needs a user table (id) and a session table
-- (id = the session token itself, user_id, expires_at); absolute_expires_at is a session
-- attribute the worker adds for the 8 h absolute lifetime (Lucia has no such notion).
create schema if not exists lucia;

create table if not exists lucia."user" (
  id text primary key,
  username text not null unique
);

create table if not exists lucia.session (
  id text primary key,                                   -- the bearer token, in plaintext
  user_id text not null references lucia."user"(id) on delete cascade,
  expires_at timestamptz not null,
  absolute_expires_at timestamptz not null
);
create index if not exists session_user_id_idx on lucia.session (user_id);
