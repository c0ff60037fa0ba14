/** The admin key the Worker tests run with: a test-only value of the required 32+ characters. */
export const TEST_ADMIN_API_KEY = "test-admin-key-0123456789abcdefghijklmnop";
