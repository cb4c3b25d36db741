import { browserProject } from '../../vitest.shared.js';

export default browserProject('browser');
