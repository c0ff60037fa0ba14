import { sql } from "drizzle-orm";
import {
  boolean,
  foreignKey,
  index,
  integer,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from "drizzle-orm/pg-core";
import { DEFAULT_APP_TYPE } from "../sessions/constants";

/*
 * The existing application's tables, column for column (../shared/seed/session_model.py).
 * Constraint and index names are the ones PostgreSQL and SQLAlchemy give them there
 * (`sessions_user_id_fkey`, `ix_sessions_user_id`, ...), so that our migration, run against that
 * application's database, recognises them as already present instead of adding copies.
 */

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "string" });

/** Minimal stand-ins for standalone installs; the existing application has its own, richer ones. */
export const users = pgTable("users", {
  id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
});

export const tenants = pgTable("tenants", {
  id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
});

export const sessions = pgTable(
  "sessions",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    userId: integer("user_id").notNull(),
    // SHA-256 of the token, lowercase hex: the plaintext token is never stored.
    sessionTokenHash: varchar("session_token_hash", { length: 64 }).notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    lastActivityAt: timestamptz("last_activity_at").notNull().defaultNow(),
    absoluteExpiresAt: timestamptz("absolute_expires_at").notNull(),
    // 45 characters: the longest textual IPv6 address (with an embedded IPv4 part).
    ipAddress: varchar("ip_address", { length: 45 }),
    userAgent: text("user_agent"),
    tenantId: integer("tenant_id"),
    isActive: boolean("is_active").notNull().default(true),
    revokedAt: timestamptz("revoked_at"),
    revokeReason: varchar("revoke_reason", { length: 50 }),
    endedAt: timestamptz("ended_at"),
    appType: varchar("app_type", { length: 20 }).notNull().default(DEFAULT_APP_TYPE),
  },
  (table) => [
    foreignKey({
      name: "sessions_user_id_fkey",
      columns: [table.userId],
      foreignColumns: [users.id],
    }).onDelete("cascade"),
    foreignKey({
      name: "sessions_tenant_id_fkey",
      columns: [table.tenantId],
      foreignColumns: [tenants.id],
    }),
    // The seed declares the hash `unique=True, index=True`: SQLAlchemy makes that one unique index.
    uniqueIndex("ix_sessions_session_token_hash").on(table.sessionTokenHash),
    index("ix_sessions_user_id").on(table.userId),
    index("ix_sessions_tenant_id").on(table.tenantId),
    // The expiry job scans only active rows; these stay small however many ended rows pile up.
    index("ix_sessions_active_last_activity_at").on(table.lastActivityAt).where(sql`is_active`),
    index("ix_sessions_active_absolute_expires_at").on(table.absoluteExpiresAt).where(sql`is_active`),
    // Half-done ends by other writers, for the repair pass: normally empty, so it costs nothing,
    // and without it every run of the job would read the whole table to find none.
    index("ix_sessions_half_ended")
      .on(table.id)
      .where(sql`is_active and (ended_at is not null or revoked_at is not null)`),
  ],
);
