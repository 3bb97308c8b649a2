// The real filesystem behind FileSystemLike.
import { promises as fsp } from 'node:fs';
import type { FileSystemLike } from './types';

export const nodeFs: FileSystemLike = {
  stat: (abs) => fsp.stat(abs),
  readFile: (abs) => fsp.readFile(abs),
  realpath: (abs) => fsp.realpath(abs),
  readdir: (abs) => fsp.readdir(abs, { withFileTypes: true }),
};
