import OCR

OpenMPLimit.reexecuteIfUnset()
await CommandLineEntry.run()
