'use strict';
// prom-client's name checks and messages, so the same misuse gives the same error.

const util = require('util');

const METRIC_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function validateMetricName(name) {
  return METRIC_RE.test(name);
}

function validateLabelName(names = []) {
  return names.every(name => LABEL_RE.test(name));
}

function validateLabel(savedLabels, labels) {
  for (const label in labels) {
    if (!savedLabels.includes(label)) {
      throw new Error(`Added label "${label}" is not included in initial labelset: ${util.inspect(savedLabels)}`);
    }
  }
}

// labels(...args): one object, or one value per label name in order.
function getLabels(labelNames, args) {
  if (typeof args[0] === 'object') return args[0];
  if (labelNames.length !== args.length) {
    throw new Error(`Invalid number of arguments (${args.length}): "${args.join(', ')}" for label names ` +
      `(${labelNames.length}): "${labelNames.join(', ')}".`);
  }
  const acc = {};
  for (let i = 0; i < labelNames.length; i++) acc[labelNames[i]] = args[i];
  return acc;
}

function isObject(obj) {
  return obj !== null && typeof obj === 'object';
}

function linearBuckets(start, width, count) {
  if (count < 1) throw new Error('Linear buckets needs a positive count');
  const buckets = new Array(count);
  for (let i = 0; i < count; i++) buckets[i] = start + i * width;
  return buckets;
}

function exponentialBuckets(start, factor, count) {
  if (start <= 0) throw new Error('Exponential buckets needs a positive start');
  if (count < 1) throw new Error('Exponential buckets needs a positive count');
  if (factor <= 1) throw new Error('Exponential buckets needs a factor greater than 1');
  const buckets = new Array(count);
  for (let i = 0; i < count; i++) buckets[i] = start * Math.pow(factor, i);
  return buckets;
}

module.exports = {
  validateMetricName, validateLabelName, validateLabel, getLabels, isObject, linearBuckets, exponentialBuckets,
};
