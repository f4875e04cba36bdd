/**
 * Unit tests of the sidebar's TypeScript without a browser: the pure modules
 * and the panel model (its REST calls answered by a fake `requestAPI`).
 * Run with `jlpm test`; the browser tests are in ../ui-tests.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/__tests__/**/*.spec.ts'],
    environment: 'node'
  }
});
