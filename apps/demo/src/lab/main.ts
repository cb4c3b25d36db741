import '../ui/styles.css';
import { mountChrome } from '../ui/chrome.js';
import { $ } from '../ui/dom.js';
import { Lab } from './lab.js';
import { mountLab } from './view.js';

mountChrome('lab');
const lab = new Lab();
mountLab($('#lab'), lab);
void lab.reset();
