import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import globals from 'globals';
import jupyterPlugin from '@jupyter/eslint-plugin';

export default defineConfig([
  {
    ignores: [
      'node_modules/**',
      '.yarn/**',
      'lib/**',
      '**/static/**',
      '**/schemas/**',
      'coverage/**',
      // Generated from the OpenAPI file by `jlpm run api:types`.
      'src/api.gen.ts',
      '**/*.js',
      '**/*.d.ts'
    ]
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    // Registered for every file: the recommended config also lints schema/*.json.
    plugins: {
      jupyter: jupyterPlugin
    }
  },
  jupyterPlugin.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: {
        ...globals.browser,
        ...globals.es2015
      },
      parserOptions: {
        // The build's tsconfig plus the unit tests.
        project: 'tsconfig.test.json',
        sourceType: 'module'
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: {
            regex: '^I[A-Z]',
            match: true
          }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error',
      quotes: [
        'error',
        'single',
        { avoidEscape: true, allowTemplateLiterals: false }
      ]
    }
  },
  {
    // Unit tests: fixtures are not UI text, and each test disposes its panel.
    files: ['src/__tests__/**'],
    rules: {
      'jupyter/no-untranslated-string': 'off',
      'jupyter/require-disposable-transfer': 'off'
    }
  },
  {
    files: ['scripts/*.mjs', '*.config.mjs'],
    languageOptions: { globals: globals.node }
  },
  prettierRecommended
]);
