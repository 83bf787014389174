#!/usr/bin/env node
// `npx skbridge setup | doctor | serve`: see dist/setup/cli.js.
import { main } from '../dist/setup/cli.js'

process.exitCode = await main(process.argv.slice(2))
