import { pgSchema, text, timestamp } from "drizzle-orm/pg-core";

/** Tables in the `lucia` PostgreSQL schema: drizzle qualifies every statement ("lucia"."session"). */
export const lucia = pgSchema("lucia");

export const userTable = lucia.table("user", {
  id: text("id").primaryKey(),
  username: text("username").notNull().unique(),
});

export const sessionTable = lucia.table("session", {
  id: text("id").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => userTable.id, { onDelete: "cascade" }),
  expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  absoluteExpiresAt: timestamp("absolute_expires_at", { withTimezone: true, mode: "date" }).notNull(),
});
