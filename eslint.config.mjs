// `npm run lint`: one style for every JavaScript file of the package, its
// tests, benchmarks and scripts (Rust is checked by cargo fmt and clippy).
import js from '@eslint/js';
import globals from 'globals';

export default [
    {
        ignores: ['dist/**', 'target/**', 'node_modules/**', 'crates/**', 'npm/**/*.node',
            'bench/results/**', '**/*.d.ts']
    },
    js.configs.recommended,
    {
        languageOptions: {
            ecmaVersion: 2024,
            sourceType: 'commonjs',
            globals: { ...globals.node }
        },
        rules: {
            indent: ['error', 4, { SwitchCase: 0 }],
            quotes: ['error', 'single', { avoidEscape: true }],
            semi: ['error', 'always'],
            'comma-dangle': ['error', 'never'],
            'eol-last': 'error',
            'no-trailing-spaces': 'error',
            'no-var': 'error',
            'prefer-const': 'error',
            eqeqeq: ['error', 'always', { null: 'ignore' }],
            'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true }],
            curly: 'error'
        }
    },
    {
        files: ['**/*.mjs', 'client.js', 'lib/browser/**', 'examples/client.js'],
        languageOptions: { sourceType: 'module' }
    },
    {
        // Browser code, and tests and benchmarks whose functions run in a page.
        files: ['client.js', 'lib/browser/**', 'examples/client.js', '__test__/**/*.mjs', 'support/**/*.mjs', 'bench/**/*.mjs'],
        languageOptions: { globals: { ...globals.browser, ...globals.node } }
    }
];
