// placeholder: replaced by the app
console.log('not yet implemented');
process.exit(1);
