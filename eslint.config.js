// Lint: typed rules (floating promises are errors) and the folder dependency rules of ARCHITECTURE.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folders each folder may NOT import from (see ARCHITECTURE.md, "Dependency rules"). */
const forbidden = {
  core: ['config', 'upstream', 'proxy', 'mirror', 'admin', 'cli', 'app'],
  config: ['upstream', 'proxy', 'mirror', 'admin', 'cli', 'app'],
  upstream: ['proxy', 'mirror', 'admin', 'cli', 'app'],
  proxy: ['mirror', 'admin', 'cli', 'app', 'store'],
  mirror: ['proxy', 'admin', 'cli', 'app'],
  admin: ['proxy', 'mirror', 'cli', 'app'],
  compare: ['config', 'upstream', 'proxy', 'mirror', 'admin', 'cli', 'app', 'store'],
  // store keeps compare's and analysis' shapes (their types.ts) and nothing else of theirs
  store: ['config', 'upstream', 'proxy', 'mirror', 'admin', 'cli', 'app'],
  analysis: ['config', 'upstream', 'proxy', 'mirror', 'admin', 'cli', 'app'],
  // capture turns trials into redacted HAR lines and files; it reads config types, never the data plane
  capture: ['upstream', 'proxy', 'mirror', 'admin', 'cli', 'app', 'replay', 'collector'],
  // replay reads captures, sends them with its own client and compares with compare's differ
  replay: ['proxy', 'mirror', 'admin', 'cli', 'app', 'collector'],
  // collector receives copies a mesh mirrored and fans them out like mirror copies
  collector: ['admin', 'cli', 'app', 'replay', 'capture'],
};

const boundaryBlocks = Object.entries(forbidden).map(([folder, deny]) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: deny.map((d) => ({
          group: [`../${d}/*`, `../../${d}/*`, `../${d}.ts`, `../../${d}.ts`],
          message: `src/${folder} may not import src/${d} (ARCHITECTURE.md, dependency rules).`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'src/admin/assets/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-restricted-syntax': [
        'error',
        { selector: "Property[key.name='insecureHTTPParser'][value.value=true]", message: 'The lenient HTTP parser is forbidden: it enables request smuggling.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  // Plain-JS scripts (bench harness) run on Node: its globals are known; TypeScript files get no-undef from tsc.
  { files: ['**/*.js', '**/*.mjs'], rules: { 'no-undef': 'off' } },
  ...boundaryBlocks,
);
