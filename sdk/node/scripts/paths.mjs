// Where the package's files are, for the build and generation scripts and the tests.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_PATH = join(PACKAGE_DIR, 'openapi.json');
export const SCHEMA_PATH = join(PACKAGE_DIR, 'src', 'schema.ts');
