import './base.css';
import './readiness.css';
import './prompts.css';
