// Serverless plugin: re-compresses each function's zip at deflate level 9, in place, deterministically.
// The packager's zips of our minified bundles came out ~12% larger than the same files at level 9, and
// the zipped size is what the bundle budget counts (docs/performance.md, "Toolchain, and why").
const fs = require('node:fs');
const yauzl = require('yauzl');
const yazl = require('yazl');

function readEntries(path) {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const entries = [];
      zip.on('entry', (entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError) return reject(streamError);
          const chunks = [];
          stream.on('data', (chunk) => chunks.push(chunk));
          stream.on('end', () => {
            entries.push({ name: entry.fileName, data: Buffer.concat(chunks), mode: entry.externalFileAttributes >>> 16 || 0o644 });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

function writeEntries(path, entries) {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    for (const entry of entries) zip.addBuffer(entry.data, entry.name, { mtime: new Date(0), mode: entry.mode, compressionLevel: 9 });
    zip.outputStream.pipe(fs.createWriteStream(path)).on('close', resolve).on('error', reject);
    zip.end();
  });
}

class RecompressArtifacts {
  constructor(serverless) {
    this.serverless = serverless;
    // After serverless-esbuild has zipped and moved the artifacts (it is listed first), and before the
    // functions are compiled: each Lambda version's CodeSha256 must be the hash of the final zip.
    this.hooks = { 'after:package:createDeploymentArtifacts': () => this.recompress() };
  }

  async recompress() {
    const service = this.serverless.service;
    const root = this.serverless.serviceDir ?? this.serverless.config.servicePath;
    const artifacts = service
      .getAllFunctions()
      .map((name) => service.getFunction(name).package?.artifact)
      .filter(Boolean);
    for (const path of new Set(artifacts.map((artifact) => require('node:path').resolve(root, artifact)))) {
      if (!fs.existsSync(path)) continue;
      const entries = (await readEntries(path)).sort((a, b) => a.name.localeCompare(b.name));
      await writeEntries(`${path}.tmp`, entries);
      fs.renameSync(`${path}.tmp`, path);
    }
  }
}

module.exports = RecompressArtifacts;
