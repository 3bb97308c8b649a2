// @vscode/test-cli configuration: the standard setup, except that VS Code is not downloaded
// (impossible offline): useInstallation points at a shim that runs the tests in code-server's
// real VS Code in headless Chromium (test/e2e/). With a desktop VS Code available, remove
// useInstallation to use the normal download.
import { defineConfig } from '@vscode/test-cli';

export default defineConfig({
  files: 'out/test/integration/**/*.test.js',
  workspaceFolder: 'test/fixtures/ws',
  useInstallation: { fromPath: 'test/e2e/code-shim' },
  mocha: { ui: 'tdd', timeout: 120_000 },
});
