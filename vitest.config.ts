import { defineConfig } from 'vitest/config';

// Two projects: `unit` (fast, parallel; real nats-server is fine here) and `e2e`
// (processes, network namespaces, VMs; run one file at a time, as root in CI).
export default defineConfig({
  test: {
    watch: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{apps,libs,tools}/**/src/**/*.spec.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['{apps,libs,tools}/**/*.e2e.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
