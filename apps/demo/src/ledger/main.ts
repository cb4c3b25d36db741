import '../ui/styles.css';
import { mountChrome } from '../ui/chrome.js';
import { $ } from '../ui/dom.js';
import { mountLedger } from './ledger.js';

mountChrome('ledger');
void mountLedger($('#ledger'));
