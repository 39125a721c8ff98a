import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/** Nx module boundaries by tag; `allow` lists imports permitted beyond the tag rules. */
function boundaries(allow) {
  return {
    allow,
    banTransitiveDependencies: false,
    depConstraints: [
      // Domain libs depend on nothing but other domain libs.
      { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain'] },
      // Generated code + converters: domain types only.
      { sourceTag: 'type:api', onlyDependOnLibsWithTags: ['type:domain'] },
      { sourceTag: 'type:os', onlyDependOnLibsWithTags: [] },
      { sourceTag: 'type:data', onlyDependOnLibsWithTags: ['type:domain', 'type:api', 'type:data'] },
      // Backends: model, proxy-core, netexec (and other backends' shared pieces, never apps).
      { sourceTag: 'type:backend', onlyDependOnLibsWithTags: ['type:domain', 'type:os', 'type:backend'] },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:os', 'type:api', 'type:data'] },
      { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:api', 'type:data', 'type:os', 'type:backend', 'type:testing'] },
    ],
  };
}

const DEEP_IMPORTS = { group: ['@svcnet/*/src/*', '@svcnet/*/src'], message: 'Import a lib through its public index only.' };

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'libs/api/src/gen/**', '**/bin/*.cjs', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            DEEP_IMPORTS,
            // Stateful fakes and other test doubles live in each lib's `testing` entry point, never in a program.
            { group: ['@svcnet/*/testing'], message: 'Test doubles (@svcnet/<lib>/testing) are for tests only.' },
          ],
        },
      ],
      '@nx/enforce-module-boundaries': ['error', boundaries([])],
    },
  },
  {
    // Test doubles (and the test harness lib) may build on other libs' test doubles.
    files: ['**/src/testing/**/*.ts', 'libs/testing/src/**/*.ts', '**/src/test-fixtures.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [DEEP_IMPORTS] }] },
  },
  {
    // Tests, e2e helpers and benchmarks may drive the test harnesses and the local cluster tool.
    files: ['**/*.spec.ts', '**/*.e2e.ts', '**/e2e/**/*.ts', 'tools/bench/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [DEEP_IMPORTS] }],
      '@nx/enforce-module-boundaries': ['error', boundaries(['@svcnet/testing', '@svcnet/cluster', '@svcnet/pki'])], '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
